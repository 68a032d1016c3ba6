using MaskRcnn.Modeling;
using MaskRcnn.Modeling.Ops;
using MaskRcnn.Visualization;
using SkiaSharp;
using static TorchSharp.torch;

namespace MaskRcnn.Teaching;

public static partial class RcnnFamily
{
    /// <summary>
    /// Selective search on one image, drawn: its initial regions (Felzenszwalb–Huttenlocher at the first scale, each
    /// in its own colour over the image) and its best-ranked <paramref name="top"/> boxes.
    /// </summary>
    public static Figure SelectiveSearchFigure(Tensor image, SelectiveSearch.Result result, int top = 30)
    {
        using var scope = NewDisposeScope();
        var segments = result.FirstSegmentation;
        var palette = Enumerable
            .Range(0, segments.Count)
            .SelectMany(i => new[] { Hue(i, 0), Hue(i, 1), Hue(i, 2) })
            .ToArray();
        var colours = tensor(palette).view(-1, 3)[tensor(segments.Labels.Select(l => (long)l).ToArray())];
        var painted = colours.view(segments.Height, segments.Width, 3).permute(2, 0, 1);
        var gray = (image.dim() == 3 ? image.mean([0]) : image).unsqueeze(0).expand(3, -1, -1);
        var blend = gray * 0.45f + painted * 0.55f;
        int shown = Math.Min(top, (int)result.Boxes.shape[0]);
        var regions = Draw.Image(blend, $"{segments.Count} initial regions (k = {result.Scales[0]})", scale: 2);
        var boxes = Draw.Boxes(
            image,
            result.Boxes[..shown],
            SKColors.Cyan,
            caption: $"the {shown} best-ranked boxes",
            scale: 2
        );
        return Draw.Grid([Fit(regions, 460), Fit(boxes, 460)], columns: 2);
    }

    /// <summary>Selective search's and the RPN's best-ranked <paramref name="count"/> boxes, side by side.</summary>
    public static Figure ProposalsFigure(Tensor image, SelectiveSearch.Result classical, Tensor rpn, int count = 30)
    {
        int a = Math.Min(count, (int)classical.Boxes.shape[0]),
            b = Math.Min(count, (int)rpn.shape[0]);
        var left = Draw.Boxes(
            image,
            classical.Boxes[..a],
            SKColors.Cyan,
            caption: $"selective search: best {a}",
            scale: 2
        );
        var right = Draw.Boxes(image, rpn[..b], SKColors.Orange, caption: $"RPN: best {b}", scale: 2);
        return Draw.Grid([Fit(left, 460), Fit(right, 460)], columns: 2);
    }

    /// <summary>
    /// How far RoIPool's rounding moves the bins of each box at this stride, against the box's size: a point per box
    /// for the largest bin-edge shift and one for the largest corner shift (image pixels).
    /// </summary>
    public static ChartHtml MisalignmentChart(Tensor boxes, int stride = 16)
    {
        var (corner, worst) = RoiPoolMisalignment(boxes, stride);
        var side = BoxOps.BoxArea(boxes).sqrt().to(float64).data<double>().ToArray();
        return Charts.Render(
            ChartSpec.Points(
                $"RoIPool at stride {stride}: how far rounding moves each box",
                "box size √(wh) (image pixels)",
                "largest shift (image pixels)",
                new ChartSeries("a bin edge", X: side, Y: worst),
                new ChartSeries("a corner", X: side, Y: corner)
            )
        );
    }

    /// <summary>The figure scaled down to at most <paramref name="width"/> pixels wide (its caption kept).</summary>
    static Figure Fit(Figure figure, int width)
    {
        if (figure.Width <= width)
            return figure;
        using var bitmap = figure.ToBitmap();
        var size = new SKImageInfo(width, (int)Math.Round(figure.Height * (double)width / figure.Width));
        using var smaller = bitmap.Resize(size, new SKSamplingOptions(SKCubicResampler.Mitchell));
        return Figure.FromBitmap(smaller, figure.Caption);
    }

    /// <summary>A well-spread colour per region index (golden-angle hues), one channel at a time, in [0, 1].</summary>
    static float Hue(int index, int channel)
    {
        double hue = index * 137.508 % 360 / 60;
        double x = 1 - Math.Abs(hue % 2 - 1);
        double[] rgb = (int)hue switch
        {
            0 => [1, x, 0],
            1 => [x, 1, 0],
            2 => [0, 1, x],
            3 => [0, x, 1],
            4 => [x, 0, 1],
            _ => [1, 0, x],
        };
        return (float)(0.25 + 0.75 * rgb[channel]);
    }

    /// <summary>
    /// SPPnet's spatial pyramid pooling of one box (original pixels) from the stride-16 features: its max over each
    /// cell of an n × n grid for every n in <paramref name="grids"/>. <see cref="Length"/> is the length of the vector
    /// they make together (channels × Σ n²), the same for a box of any size.
    /// </summary>
    public sealed record SpatialPyramid(Tensor Crop, IReadOnlyList<Tensor> Levels, int Channel, long Channels)
    {
        public long Length => Channels * Levels.Sum(l => l.shape[^1] * l.shape[^1]);

        /// <summary>The box's features (one channel) and each grid's pooled values, on one colour scale.</summary>
        public Figure Figure(string caption = "")
        {
            using var scope = NewDisposeScope();
            var maps = new[] { Crop }.Concat(Levels.Select(l => l[Channel])).ToList();
            double low = maps.Min(m => m.min().item<float>()),
                high = maps.Max(m => m.max().item<float>());
            var tiles = maps.Select(m =>
                    nn.functional.interpolate(m.unsqueeze(0).unsqueeze(0), [96, 96], mode: InterpolationMode.Nearest)[
                        0,
                        0
                    ]
                )
                .ToArray();
            var titles = new[] { "the box on P4" }.Concat(Levels.Select(l => $"{l.shape[^1]} × {l.shape[^1]}"));
            return Draw.MapGrid(
                stack(tiles),
                columns: tiles.Length,
                cell: 120,
                titles: titles.ToList(),
                caption: caption,
                range: (low, high),
                scaleLabel: $"channel {Channel}, one scale for all"
            );
        }
    }

    /// <summary>SPP of <paramref name="box"/> (x1, y1, x2, y2 in the image's pixels) at each grid size.</summary>
    public static SpatialPyramid SpatialPyramidPooling(MaskRCNN model, Tensor image, Tensor box, int[] grids)
    {
        using var gcPause = Runtime.GcPause.Enter();
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var (list, _) = model.Preprocess([image]);
        var features = model.Features(list.Tensors)[..MaskRCNN.PooledLevels];
        var resized = BoxOps.ResizeBoxes(box.view(1, 4), (image.shape[^2], image.shape[^1]), list.ImageSizes[0]);
        var rois = MultiScaleRoIAlign.ToRoiFormat([resized]);
        var (scales, _) = model.RoiHeads.BoxRoiPool.SetupScales(features, list.ImageSizes);
        var p4 = features[SingleLevel];
        var levels = grids.Select(n => RoIPool.Apply(p4, rois, (n, n), scales[SingleLevel])[0].contiguous()).ToList();
        // The channel that responds most inside the box, and the box's own cells of it.
        int channel = (int)levels[0].view(-1).argmax().item<long>();
        var cells = (resized * scales[SingleLevel]).round().to(int64).ToLongArray();
        long x1 = Math.Clamp(cells[0], 0, p4.shape[3] - 1),
            y1 = Math.Clamp(cells[1], 0, p4.shape[2] - 1);
        long x2 = Math.Clamp(cells[2] + 1, x1 + 1, p4.shape[3]),
            y2 = Math.Clamp(cells[3] + 1, y1 + 1, p4.shape[2]);
        var crop = p4[0, channel].narrow(0, y1, y2 - y1).narrow(1, x1, x2 - x1).contiguous();
        var result = new SpatialPyramid(crop.MoveToOuterDisposeScope(), levels, channel, p4.shape[1]);
        foreach (var l in levels)
            l.MoveToOuterDisposeScope();
        return result;
    }

    /// <summary>
    /// The same box (original pixels) pooled twice from the stride-16 level, <paramref name="size"/> × <paramref
    /// name="size"/> bins: RoIPool (rounded) above, RoIAlign (exact, 2 × 2 samples per bin) below, the first
    /// <paramref name="channels"/> channels, all on one colour scale.
    /// </summary>
    public static Figure PoolBothWays(MaskRCNN model, Tensor image, Tensor box, int channels = 4, int size = 14)
    {
        using var gcPause = Runtime.GcPause.Enter();
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var (levels, rois, scales, _) = Pyramid(model, image, box);
        double scale = scales[SingleLevel];
        var pooled = RoIPool.Apply(levels[SingleLevel], rois, (size, size), scale)[0, ..channels];
        var aligned = RoIAlign.Apply(levels[SingleLevel], rois, (size, size), scale, 2, aligned: true)[0, ..channels];
        return PooledGrid([("pool", pooled), ("align", aligned)], "feature value, one scale for all maps");
    }

    /// <summary>
    /// The same box (original pixels) RoIPooled 7 × 7 from the pyramid level FPN's rule picks for its size (above)
    /// and from the one stride-16 level the 2015 papers used (below): the first <paramref name="channels"/>
    /// channels, on one colour scale.
    /// </summary>
    public static Figure PyramidVersusOneLevel(MaskRCNN model, Tensor image, Tensor box, int channels = 4)
    {
        using var gcPause = Runtime.GcPause.Enter();
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var (levels, rois, scales, mapper) = Pyramid(model, image, box);
        int rule = (int)mapper.Map(rois[.., 1..]).item<long>();
        var byRule = RoIPool.Apply(levels[rule], rois, (7, 7), scales[rule])[0, ..channels];
        var one = RoIPool.Apply(levels[SingleLevel], rois, (7, 7), scales[SingleLevel])[0, ..channels];
        return PooledGrid([($"P{rule + 2}", byRule), ("P4", one)], "feature value, one scale for all maps");
    }

    /// <summary>The pooled feature levels P2 … P5 of an image, a box (original pixels) as a RoI row, the levels'
    /// scales and the level rule.</summary>
    static (Tensor[] Levels, Tensor Rois, double[] Scales, LevelMapper Mapper) Pyramid(
        MaskRCNN model,
        Tensor image,
        Tensor box
    )
    {
        var (list, _) = model.Preprocess([image]);
        var levels = model.Features(list.Tensors)[..MaskRCNN.PooledLevels];
        var resized = BoxOps.ResizeBoxes(box.view(1, 4), (image.shape[^2], image.shape[^1]), list.ImageSizes[0]);
        var (scales, mapper) = model.RoiHeads.BoxRoiPool.SetupScales(levels, list.ImageSizes);
        return (levels, MultiScaleRoIAlign.ToRoiFormat([resized]), scales, mapper);
    }

    /// <summary>Rows of pooled maps [channels, s, s] under one colour scale, each titled "name chN".</summary>
    static Figure PooledGrid(IReadOnlyList<(string Name, Tensor Maps)> rows, string scaleLabel)
    {
        var all = cat(rows.Select(r => r.Maps).ToArray());
        long channels = rows[0].Maps.shape[0];
        var titles = rows.SelectMany(r => Enumerable.Range(0, (int)channels).Select(c => $"{r.Name} ch{c}")).ToList();
        return Draw.MapGrid(
            all,
            columns: (int)channels,
            cell: 96,
            titles: titles,
            range: (all.min().item<float>(), all.max().item<float>()),
            scaleLabel: scaleLabel
        );
    }

    /// <summary>One lesion and the pyramid level FPN's rule pools it from.</summary>
    public sealed record LesionLevel(
        [property: Column("image")] string Image,
        [property: Column("box in the model's input (px)")] string Size,
        [property: Column("√(wh) (px)", "F1")] double Side,
        [property: Column("k0 + log2(√(wh) / 224)", "F2")] double Exact,
        [property: Column("level used")] string Level
    );

    /// <summary>
    /// The lesions of the first <paramref name="images"/> images with the level FPN's rule (k = ⌊k0 + log2(√(wh) /
    /// 224)⌋, k0 = 4, clamped to P2 … P5) pools each from, at the size the model sees them.
    /// </summary>
    public static IReadOnlyList<LesionLevel> LevelRule(MaskRCNN model, Data.Dataset dataset, int images)
    {
        var rows = new List<LesionLevel>();
        var subset = dataset.Take(images);
        for (int i = 0; i < subset.Count; i++)
        {
            using var scope = NewDisposeScope();
            using var sample = subset.Load(i);
            var size = model.Transform.Forward([sample.Image], null, false).Images.ImageSizes[0];
            var mapper = Mapper(model, size);
            var boxes = BoxOps.ResizeBoxes(sample.Boxes, (sample.Image.shape[^2], sample.Image.shape[^1]), size);
            var level = mapper.Map(boxes).ToLongArray();
            var b = boxes.ToFloatArray();
            for (int k = 0; k < level.Length; k++)
            {
                double w = b[k * 4 + 2] - b[k * 4],
                    h = b[k * 4 + 3] - b[k * 4 + 1];
                double side = Math.Sqrt(w * h);
                string name = subset.Images[i].FileName;
                rows.Add(new(name, $"{w:F0} × {h:F0}", side, 4 + Math.Log2(side / 224), $"P{level[k] + mapper.KMin}"));
            }
        }
        return rows;
    }

    /// <summary>The smallest box side √(wh) (whole pixels) that FPN's rule sends to level P<paramref
    /// name="level"/> or above.</summary>
    public static int LevelBoundary(MaskRCNN model, int level)
    {
        using var scope = NewDisposeScope();
        var mapper = Mapper(model, (256, 256));
        for (int side = 1; side < 4096; side++)
            if (mapper.Map(tensor(new float[] { 0, 0, side, side }).view(1, 4)).item<long>() + mapper.KMin >= level)
                return side;
        return -1;
    }

    /// <summary>The model's level rule for an image of this (resized) size: the box pooler's mapper over P2 … P5
    /// (strides 4 … 32).</summary>
    static LevelMapper Mapper(MaskRCNN model, (long H, long W) size)
    {
        var shapes = new[] { 4, 8, 16, 32 }.Select(s => zeros(1, 1, Math.Max(1, size.H / s), Math.Max(1, size.W / s)));
        return model.RoiHeads.BoxRoiPool.SetupScales(shapes.ToArray(), [size]).Mapper;
    }
}
