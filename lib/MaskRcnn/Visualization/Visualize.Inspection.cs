using MaskRcnn.Modeling;
using MaskRcnn.Modeling.Ops;
using MaskRcnn.Modeling.RoiHeads;
using SkiaSharp;
using TorchSharp;
using static TorchSharp.torch;

namespace MaskRcnn.Visualization;

/// <summary>The stages of one forward pass, drawn from an <see cref="InspectionResult"/> (matterport's
/// inspect_data and inspect_model steps). Boxes are drawn on the resized image, where the model sees them.</summary>
public static partial class Visualize
{
    static readonly SKColor Positive = SKColors.LimeGreen;
    static readonly SKColor Neutral = new(70, 150, 255);
    static readonly SKColor Negative = new(255, 80, 80);
    static readonly SKColor Truth = SKColors.Yellow;
    static readonly SKColor BackgroundProposal = new(0, 220, 255, 170); // cyan: visible on grey speckle

    /// <summary>
    /// The anchors of one cell per FPN level (the cell nearest the first lesion's centre), coloured by level: the
    /// sizes double from level to level while the cells get coarser.
    /// </summary>
    public static Figure CentreAnchors(InspectionResult inspection, int scale = 2)
    {
        using var scope = NewDisposeScope();
        var boxes = new List<Tensor>();
        var colours = new List<SKColor>();
        var legend = new List<LegendEntry>();
        var centre = LesionCentre(inspection);
        long offset = 0;
        for (int level = 0; level < inspection.AnchorsPerLevel.Length; level++)
        {
            var all = inspection.Anchors.narrow(0, offset, inspection.AnchorsPerLevel[level]);
            var centres = (all[.., ..2] + all[.., 2..]) / 2;
            long nearest = (centres - centre).pow(2).sum(1).argmin().item<long>();
            var cell = all[(all[.., ..2] + all[.., 2..]).div(2).sub(centres[nearest]).abs().sum(1).lt(0.5f)];
            var color = Draw.ClassColor(level + 3);
            boxes.Add(cell);
            colours.AddRange(Enumerable.Repeat(color, (int)cell.shape[0]));
            var (name, _, stride) = inspection.Features[level];
            var widths = cell[.., 2] - cell[.., 0];
            var heights = cell[.., 3] - cell[.., 1];
            float size = widths[(widths - heights).abs().argmin()].item<float>(); // the square anchor's side
            legend.Add(new LegendEntry($"P{level + 2} (stride {stride}): {size:F0} px", color));
            offset += inspection.AnchorsPerLevel[level];
        }
        var first = boxes[0];
        var ratios = ((first[.., 3] - first[.., 1]) / (first[.., 2] - first[.., 0])).ToFloatArray();
        string ratioList = string.Join(", ", ratios.Select(r => r.ToString("0.##")).Distinct());
        var caption = $"the anchors of one cell per level at the first lesion's centre (h/w {ratioList})";
        using var sketch = new Draw.Sketch(inspection.ResizedImage, scale);
        var cells = cat(boxes);
        for (int i = 0; i < cells.shape[0]; i++)
            sketch.Box(cells[i], colours[i], 1.5f);
        var truth = inspection.GroundTruth?.Boxes;
        if (truth is not null && truth.shape[0] > 0)
        {
            sketch.Box(truth[0], Truth, 2f, dashed: true);
            legend.Add(new LegendEntry("the lesion's box, dashed", Truth));
        }
        return Draw.WithLegend(sketch.ToFigure(caption), legend);
    }

    /// <summary>
    /// matterport's RPN targets: positive anchors (green, thickest), a sample of neutral (blue) and negative (red,
    /// dotted) anchors, ground truth dashed yellow on top of them all — and, beside it, each positive anchor moved by
    /// its regression target (white), which lands exactly on its lesion's dashed box.
    /// </summary>
    public static Figure RpnTargets(InspectionResult inspection, int shown = 12, float scale = 0)
    {
        using var scope = NewDisposeScope();
        scale = scale > 0 ? scale : PairScale(inspection);
        var labels = inspection.AnchorLabels ?? throw NeedsTruth("RPN targets");
        var anchors = inspection.Anchors;
        var positive = nonzero(labels.eq(1)).view(-1);
        var neutral = Spread(nonzero(labels.eq(-1)).view(-1), shown);
        var negative = Spread(nonzero(labels.eq(0)).view(-1), shown);
        var truth = inspection.GroundTruth!.Boxes;
        var sketch = new List<(Tensor Boxes, SKColor Color, float Width, bool Dotted)>
        {
            (anchors[negative], Negative, 1f, true),
            (anchors[neutral], Neutral, 1f, false),
            (anchors[positive], Positive, 2.5f, false),
            (truth, Truth, 1.5f, true), // on top: a positive anchor covers most of its lesion's box
        };
        var counts =
            $"{positive.shape[0]} positive, {labels.eq(-1).sum().item<long>():N0} neutral, "
            + $"{labels.eq(0).sum().item<long>():N0} negative anchors";
        var left = Layers(inspection.ResizedImage, sketch, scale, counts);
        var moved = inspection.AnchorTargetDeltas is { } deltas
            ? BoxCoderFor(inspection).DecodeSingle(deltas[positive], anchors[positive])
            : zeros(0, 4);
        var right = Layers(
            inspection.ResizedImage,
            [(moved, SKColors.White, 2.5f, false), (truth, Truth, 1.5f, true)],
            scale,
            "positive anchors moved by their regression targets"
        );
        var legend = new List<LegendEntry>
        {
            new("positive", Positive),
            new($"neutral ({neutral.shape[0]} shown)", Neutral),
            new($"negative, dotted ({negative.shape[0]} shown)", Negative),
            new("ground truth, dashed", Truth),
            new("moved positive anchors", SKColors.White),
        };
        return Draw.WithLegend(Draw.Grid([left, right], 2), legend);
    }

    /// <summary>
    /// The RoIs the second stage samples for training from the proposals (ground-truth boxes added): positives
    /// (IoU ≥ 0.5 with a lesion, green) and negatives (red, dotted), and the 28 × 28 mask target of each positive:
    /// the lesion's mask cropped to the RoI.
    /// </summary>
    public static Figure RoiTargets(InspectionResult inspection, float scale = 2, int masks = 16)
    {
        using var scope = NewDisposeScope();
        var rois = inspection.SampledRois ?? throw NeedsTruth("RoI targets");
        var labels = inspection.SampledRoiLabels!;
        var positive = nonzero(labels.gt(0)).view(-1);
        var allNegative = nonzero(labels.eq(0)).view(-1);
        var negative = Spread(allNegative, 16);
        var caption =
            $"{rois.shape[0]} sampled RoIs: {positive.shape[0]} positive, {allNegative.shape[0]} negative "
            + $"({negative.shape[0]} drawn)";
        var picture = Layers(
            inspection.ResizedImage,
            [
                (rois[negative], Negative, 1f, true),
                (inspection.GroundTruth!.Boxes, Truth, 1f, true),
                (rois[positive], Positive, 1.5f, false),
            ],
            scale,
            caption
        );
        var legend = new List<LegendEntry>
        {
            new("positive RoI", Positive),
            new("negative RoI, dotted", Negative),
            new("ground truth, dashed", Truth),
        };
        var targets = inspection.MaskTargets!;
        var grid = Draw.MapGrid(
            targets[..Math.Min(masks, (int)targets.shape[0])],
            columns: 8,
            cell: 56,
            heat: false,
            range: (0, 1),
            scaleLabel: "28 × 28 mask targets of the positive RoIs: white = lesion",
            caption: "mask targets"
        );
        return Draw.Stack([Draw.WithLegend(picture, legend), grid], caption);
    }

    /// <summary>
    /// The RPN's most confident anchors (dashed) each joined to the box its predicted deltas make of it (solid, same
    /// colour and number), and the proposals that survive NMS.
    /// </summary>
    public static Figure RefinedAnchors(InspectionResult inspection, int shown = 8, float scale = 0)
    {
        using var scope = NewDisposeScope();
        scale = scale > 0 ? scale : PairScale(inspection);
        var top = inspection.Objectness.topk(Math.Min(shown, (int)inspection.Objectness.shape[0])).indexes;
        var (h, w) = inspection.ResizedSize;
        var anchors = inspection.Anchors[top];
        var refined = BoxOps.ClipBoxesToImage(inspection.RefinedAnchors[top], h, w);
        using var pairs = new Draw.Sketch(inspection.ResizedImage, scale);
        for (int i = 0; i < anchors.shape[0]; i++)
        {
            pairs.Box(anchors[i], PairColor(i), 1f, dashed: true);
            pairs.Box(refined[i], PairColor(i), 2f);
        }
        // the numbers after every box, side by side along the top edge: boxes on one lesion cannot cover them
        for (int i = 0; i < anchors.shape[0]; i++)
        {
            var corner = refined[i].clone();
            corner[0] += i * 16 / scale;
            pairs.Label($"{i + 1}", corner, PairColor(i));
        }
        var proposals = inspection.Proposals[..Math.Min(shown, (int)inspection.Proposals.shape[0])];
        var after = Layers(
            inspection.ResizedImage,
            [(proposals, SKColors.Orange, 1.5f, false)],
            scale,
            $"top {proposals.shape[0]} of {inspection.Proposals.shape[0]} proposals after NMS"
        );
        var legend = new List<LegendEntry>
        {
            new("dashed: anchor; solid, same colour and number: its refined box", PairColor(0)),
            new("proposal after NMS", SKColors.Orange),
        };
        var before = pairs.ToFigure($"top {anchors.shape[0]} anchors by objectness → refined");
        return Draw.WithLegend(Draw.Grid([before, after], 2), legend);
    }

    /// <summary>
    /// The proposals the RoI heads classify (the first <paramref name="shown"/> by objectness): those the classifier
    /// calls background dotted cyan, the others in their class colour; the best few lesion proposals labelled with
    /// class and probability.
    /// </summary>
    public static Figure ProposalClassification(
        InspectionResult inspection,
        IReadOnlyList<string> classNames,
        int shown = 100,
        int labelled = 5,
        float scale = 2
    )
    {
        using var scope = NewDisposeScope();
        int n = Math.Min(shown, (int)inspection.Proposals.shape[0]);
        var (probability, best) = inspection.ClassProbabilities[..n].max(1);
        var classes = best.ToLongArray();
        var scores = probability.ToFloatArray();
        var boxes = inspection.Proposals[..n];
        using var sketch = new Draw.Sketch(inspection.ResizedImage, scale);
        for (int i = 0; i < n; i++)
            if (classes[i] == 0)
                sketch.Box(boxes[i], BackgroundProposal, 1f, dotted: true);
        var lesions = Enumerable.Range(0, n).Where(i => classes[i] > 0).OrderBy(i => scores[i]).ToList();
        foreach (int i in lesions)
            sketch.Box(boxes[i], Draw.ClassColor(classes[i], classNames), 1.5f);
        var rows = Draw.Rows(boxes);
        foreach (int i in Draw.OnePerPlace(rows, lesions.AsEnumerable().Reverse(), labelled))
            sketch.Label(
                $"{classNames[(int)classes[i]]} {scores[i]:F2}",
                boxes[i],
                Draw.ClassColor(classes[i], classNames)
            );
        int background = classes.Count(c => c == 0);
        var caption = $"{n} proposals: {background} classified background, {n - background} as a lesion class";
        var legend = new List<LegendEntry> { new("background, dotted", BackgroundProposal) };
        legend.AddRange(Draw.ClassLegend(classNames));
        return Draw.WithLegend(sketch.ToFigure(caption), legend);
    }

    /// <summary>
    /// matterport's step-by-step detection: proposals whose best lesion class scores above 0.5 (dotted) and the
    /// box that class's deltas make of them (solid); the candidates above <paramref name="threshold"/>; the final
    /// detections after per-class NMS.
    /// </summary>
    public static Figure Refinement(InspectionResult inspection, IReadOnlyList<string> classNames, double threshold)
    {
        using var scope = NewDisposeScope();
        var probs = inspection.ClassProbabilities;
        var (best, lesion) = probs[.., 1..].max(1);
        lesion = lesion + 1;
        var confident = nonzero(best.gt(0.5)).view(-1);
        var refined = inspection.RefinedBoxes[confident, lesion[confident]];
        var colours = lesion[confident].ToLongArray().Select(c => Draw.ClassColor(c, classNames)).ToList();
        // Panel 1 pairs many boxes on a few lesions: drawn at twice the size of the others, in its own row.
        using var step1 = new Draw.Sketch(inspection.ResizedImage, PairScale(inspection));
        for (int i = 0; i < confident.shape[0]; i++)
        {
            step1.Box(inspection.Proposals[confident[i]], colours[i], 1f, dotted: true);
            step1.Box(refined[i], colours[i], 1.5f);
        }
        var candidates = inspection.AfterScoreThreshold;
        var kept = nonzero(candidates.Scores.ge(threshold)).view(-1);
        var final = inspection.AfterNms;
        var finalKept = nonzero(final.Scores.ge(threshold)).view(-1);
        var refinement = step1.ToFigure(
            $"1. {confident.shape[0]} proposals with a lesion class > 0.5 (dotted) → refined"
        );
        var filtered = new List<Figure>
        {
            Labelled(
                inspection.ResizedImage,
                candidates.Boxes[kept],
                candidates.Labels[kept],
                candidates.Scores[kept],
                classNames,
                $"2. {kept.shape[0]} class candidates ≥ {threshold}"
            ),
            Labelled(
                inspection.ResizedImage,
                final.Boxes[finalKept],
                final.Labels[finalKept],
                final.Scores[finalKept],
                classNames,
                $"3. {finalKept.shape[0]} after per-class NMS"
            ),
        };
        var rows = new List<Figure> { Draw.Grid([refinement], 1), Draw.Grid(filtered, 2) };
        return Draw.WithLegend(Draw.Stack(rows), Draw.ClassLegend(classNames));
    }

    /// <summary>
    /// The mask branch per detection (best first, at most <paramref name="shown"/>): the 28 × 28 mask the head
    /// predicts for the detection's class, beside the 28 × 28 target the ground truth gives for the same box (the
    /// lesion it overlaps most, cropped to the detection's box), both on one 0–1 scale. Where none scores
    /// ≥ <paramref name="minScore"/> (a model early in training), the best detections at any score, as the caption says.
    /// </summary>
    public static Figure MaskBranch(
        InspectionResult inspection,
        IReadOnlyList<string> classNames,
        double minScore,
        int shown = 4
    )
    {
        using var scope = NewDisposeScope();
        var detections = inspection.AfterNms;
        var keep = nonzero(detections.Scores.ge(minScore)).view(-1);
        string caption = "each detection's predicted 28 × 28 mask, then the target for the same box";
        if (keep.shape[0] == 0) // a model early in training: its best detections, whatever their score, say so
        {
            keep = arange(detections.Scores.shape[0]);
            caption = $"no detection scores ≥ {minScore}: the best at any score — {caption}";
        }
        keep = keep[..Math.Min(shown, (int)keep.shape[0])];
        if (keep.shape[0] == 0)
            return Draw.Grid([], 1, "no detection at all");
        var boxes = detections.Boxes[keep];
        var predicted = inspection.MaskProbabilities[keep].flatten(0, 1);
        var truth = inspection.GroundTruth!;
        var overlap = BoxOps.BoxIou(boxes, truth.Boxes);
        var (iou, matched) = overlap.max(1);
        var targets = MaskOps.ProjectMasksOnBoxes(truth.Masks, boxes, matched, (int)predicted.shape[^1]);
        var labels = detections.Labels[keep].ToLongArray();
        var scores = detections.Scores[keep].ToFloatArray();
        var ious = iou.ToFloatArray();
        var maps = new List<Tensor>();
        var titles = new List<string>();
        for (int i = 0; i < keep.shape[0]; i++)
        {
            maps.Add(predicted[i]);
            maps.Add(targets[i].to(float32));
            titles.Add($"{classNames[(int)labels[i]]} {scores[i]:F2}");
            titles.Add($"target (IoU {ious[i]:F2})");
        }
        return Draw.MapGrid(
            stack(maps),
            columns: Math.Min(8, maps.Count),
            cell: 112,
            titles: titles,
            heat: false,
            range: (0, 1),
            scaleLabel: "probability of lesion (predicted) / 1 = lesion (target)",
            caption: caption
        );
    }

    /// <summary>The distribution of the RPN's predicted deltas over its most confident anchors: four panels, one
    /// per coordinate.</summary>
    public static ChartHtml RpnDeltas(InspectionResult inspection, int anchors = 2000)
    {
        using var scope = NewDisposeScope();
        var top = inspection.Objectness.topk(Math.Min(anchors, (int)inspection.Objectness.shape[0])).indexes;
        var deltas = inspection.RpnDeltas[top];
        string[] names = ["dx", "dy", "dw", "dh"];
        string[] meaning = ["× anchor width", "× anchor height", "log of the width ratio", "log of the height ratio"];
        var specs = names
            .Select(
                (n, c) =>
                    ChartSpec.Histogram(
                        $"{n} of the {top.shape[0]:N0} most confident anchors",
                        $"{n} ({meaning[c]})",
                        "anchors",
                        new ChartSeries(n, X: Doubles(deltas[.., c]), Color: ChartSpec.Palette[c])
                    ) with
                    {
                        Width = 460,
                        Height = 300,
                    }
            )
            .ToArray();
        return Charts.Row(specs);
    }

    // ---- helpers ----------------------------------------------------------------------------------------

    static MaskRcnnException NeedsTruth(string what) =>
        new($"{what} need ground truth: inspect the image with its targets (Inspector.Inspect(model, image, targets))");

    /// <summary>At most <paramref name="count"/> indices spread evenly over <paramref name="indices"/>.</summary>
    static Tensor Spread(Tensor indices, int count)
    {
        long n = indices.shape[0];
        if (n <= count)
            return indices;
        var picks = Enumerable.Range(0, count).Select(i => (long)(i * n / count)).ToArray();
        return indices[tensor(picks)];
    }

    /// <summary>The first lesion's centre (x, y), or the image's centre without ground truth.</summary>
    static Tensor LesionCentre(InspectionResult inspection)
    {
        var truth = inspection.GroundTruth?.Boxes;
        if (truth is not null && truth.shape[0] > 0)
            return (truth[0, ..2] + truth[0, 2..]) / 2;
        var (h, w) = inspection.ResizedSize;
        return tensor(new float[] { w / 2f, h / 2f });
    }

    static Modeling.Utils.BoxCoder BoxCoderFor(InspectionResult inspection) => new([1, 1, 1, 1]);

    static SKColor PairColor(int i) => Draw.ClassColor(3 + i % 6);

    /// <summary>The enlargement that puts two panels of the resized image side by side on a page (at most ×2).</summary>
    static float PairScale(InspectionResult inspection) =>
        Math.Min(2f, (Draw.MaxWidth / 2f - 12) / Math.Max(inspection.ResizedSize.H, inspection.ResizedSize.W));

    static double[] Doubles(Tensor t) => t.to(float32).ToFloatArray().Select(v => (double)v).ToArray();

    /// <summary>Sets of boxes drawn in order (later ones on top).</summary>
    static Figure Layers(
        Tensor image,
        IEnumerable<(Tensor Boxes, SKColor Color, float Width, bool Dotted)> layers,
        float scale,
        string caption
    )
    {
        using var sketch = new Draw.Sketch(image, scale);
        foreach (var (boxes, color, width, dotted) in layers)
            for (int i = 0; i < boxes.shape[0]; i++)
                sketch.Box(boxes[i], color, width, dashed: color == Truth, dotted: dotted && color != Truth);
        return sketch.ToFigure(caption);
    }

    static Figure Labelled(
        Tensor image,
        Tensor boxes,
        Tensor labels,
        Tensor scores,
        IReadOnlyList<string> classNames,
        string caption
    )
    {
        using var sketch = new Draw.Sketch(image, 1);
        var l = labels.ToLongArray();
        var s = scores.ToFloatArray();
        var bestFirst = Enumerable.Range(0, l.Length).OrderByDescending(i => s[i]).ToList();
        foreach (int i in bestFirst.AsEnumerable().Reverse()) // the best box drawn last, on top
            sketch.Box(boxes[i], Draw.ClassColor(l[i], classNames), 1.5f);
        foreach (int i in Draw.OnePerPlace(Draw.Rows(boxes), bestFirst))
            sketch.Label($"{classNames[(int)l[i]]} {s[i]:F2}", boxes[i], Draw.ClassColor(l[i], classNames));
        return sketch.ToFigure(caption);
    }
}
