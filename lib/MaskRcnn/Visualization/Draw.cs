using MaskRcnn.Modeling;
using SkiaSharp;
using TorchSharp;
using static TorchSharp.torch;

namespace MaskRcnn.Visualization;

/// <summary>One entry of a picture's legend: what a colour means, or with <c>Dotted</c> what a dotted outline
/// means.</summary>
public sealed record LegendEntry(string Label, SKColor Color, bool Dotted = false);

/// <summary>
/// Pictures of what the model sees and produces, drawn with SkiaSharp: images, masks, boxes with class labels
/// and scores, ground truth against prediction, anchors and proposals, small-mask and feature-map grids.
/// Images are [3, H, W] (or [H, W]) float tensors in [0, 1]; boxes (x1, y1, x2, y2) in that image's pixels.
/// </summary>
public static class Draw
{
    /// <summary>Class colours: benign green, malignant red, then a palette; index 0 (background) grey.</summary>
    public static SKColor ClassColor(long label, IReadOnlyList<string>? names = null)
    {
        string? name = names is not null && label >= 0 && label < names.Count ? names[(int)label] : null;
        return name switch
        {
            "benign" => new SKColor(60, 220, 90),
            "malignant" => new SKColor(240, 60, 60),
            _ => Palette[(int)(Math.Abs(label) % Palette.Length)],
        };
    }

    static readonly SKColor[] Palette =
    [
        new(160, 160, 160),
        new(60, 220, 90),
        new(240, 60, 60),
        new(70, 150, 255),
        new(255, 190, 40),
        new(200, 90, 255),
        new(40, 220, 220),
        new(255, 120, 180),
        new(150, 110, 60),
    ];

    static SKTypeface? _font;
    static SKTypeface? Font =>
        _font ??= new[]
        {
            "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
            "/usr/share/fonts/dejavu/DejaVuSans.ttf",
            "/usr/share/fonts/truetype/liberation2/LiberationSans-Regular.ttf",
            "/Library/Fonts/Arial.ttf",
            @"C:\Windows\Fonts\arial.ttf",
        }
            .Where(File.Exists)
            .Select(SKTypeface.FromFile)
            .FirstOrDefault();

    /// <summary>The image as a bitmap (grayscale [H, W] or RGB [3, H, W], values in [0, 1]).</summary>
    public static SKBitmap Bitmap(Tensor image)
    {
        using var scope = NewDisposeScope();
        var t = image.dim() == 2 ? image.unsqueeze(0).expand(3, -1, -1) : image;
        if (t.shape[0] == 1)
            t = t.expand(3, -1, -1);
        int h = (int)t.shape[1],
            w = (int)t.shape[2];
        var bytes = (t.detach().cpu().to(float32).clamp(0, 1) * 255)
            .round()
            .to(ScalarType.Byte)
            .permute(1, 2, 0)
            .contiguous();
        var rgb = bytes.data<byte>().ToArray();
        var bmp = new SKBitmap(new SKImageInfo(w, h, SKColorType.Rgba8888, SKAlphaType.Premul));
        var px = bmp.GetPixelSpan();
        for (int i = 0; i < w * h; i++)
        {
            px[i * 4] = rgb[i * 3];
            px[i * 4 + 1] = rgb[i * 3 + 1];
            px[i * 4 + 2] = rgb[i * 3 + 2];
            px[i * 4 + 3] = 255;
        }
        return bmp;
    }

    public static Figure Image(Tensor image, string caption = "", int scale = 1)
    {
        using var bmp = Bitmap(image);
        return Scaled(bmp, scale, caption);
    }

    static Figure Scaled(SKBitmap bmp, int scale, string caption)
    {
        if (scale == 1)
            return Figure.FromBitmap(bmp, caption);
        using var big = bmp.Resize(
            new SKImageInfo(bmp.Width * scale, bmp.Height * scale),
            new SKSamplingOptions(SKFilterMode.Nearest)
        );
        return Figure.FromBitmap(big, caption);
    }

    /// <summary>Detections over the image: translucent masks, boxes, "class score" labels.</summary>
    public static Figure Detections(
        Tensor image,
        Detections d,
        IReadOnlyList<string> classNames,
        double minScore = 0,
        string caption = "",
        int scale = 1,
        bool legend = false
    )
    {
        var figure = DrawDetections(image, d, classNames, minScore, caption, scale);
        return legend ? WithLegend(figure, ClassLegend(classNames)) : figure;
    }

    static Figure DrawDetections(
        Tensor image,
        Detections d,
        IReadOnlyList<string> classNames,
        double minScore,
        string caption,
        int scale
    )
    {
        using var sketch = new Sketch(image, scale);
        DrawPredictions(sketch, d, classNames, minScore, belowThreshold: false);
        return sketch.ToFigure(caption);
    }

    /// <summary>
    /// Detections scoring at least <paramref name="minScore"/>: translucent mask, box, "class score" label. With
    /// <paramref name="belowThreshold"/>, those under it too, as a dotted box with their score and no mask, so that
    /// "found, but scored below the threshold" and "missed" look different.
    /// </summary>
    static void DrawPredictions(
        Sketch sketch,
        Detections d,
        IReadOnlyList<string> classNames,
        double minScore,
        bool belowThreshold
    )
    {
        var (boxes, labels, scores) = d.ToArrays();
        bool Shown(int i) => scores[i] >= minScore || belowThreshold;
        for (int i = boxes.Length - 1; i >= 0; i--) // best last, so that it lies on top
        {
            if (!Shown(i))
                continue;
            var color = ClassColor(labels[i], classNames);
            if (scores[i] < minScore)
            {
                sketch.Box(boxes[i], color, 1f, dotted: true);
                continue;
            }
            if (d.Masks is not null)
            {
                using var m = d.Masks[i];
                sketch.Mask(m, color.WithAlpha(90));
            }
            sketch.Box(boxes[i], color, 1.5f);
        }
        var order = Enumerable.Range(0, boxes.Length).Where(Shown).OrderByDescending(i => scores[i]);
        foreach (int i in OnePerPlace(boxes, order))
        {
            string label = $"{Name(labels[i], classNames)} {scores[i]:F2}";
            sketch.Label(label, boxes[i][0], boxes[i][1], ClassColor(labels[i], classNames));
        }
    }

    /// <summary>
    /// Which boxes get a label, one per place: taken in <paramref name="bestFirst"/> order, a box overlapping an
    /// already labelled one (IoU > 0.3) keeps its box but not its label, so that no label hides another; at most
    /// <paramref name="most"/>.
    /// </summary>
    internal static List<int> OnePerPlace(float[][] boxes, IEnumerable<int> bestFirst, int most = int.MaxValue)
    {
        var chosen = new List<int>();
        foreach (int i in bestFirst)
        {
            if (chosen.Count == most)
                break;
            if (chosen.All(j => Iou(boxes[j], boxes[i]) <= 0.3))
                chosen.Add(i);
        }
        return chosen;
    }

    static double Iou(float[] a, float[] b)
    {
        double w = Math.Max(0, Math.Min(a[2], b[2]) - Math.Max(a[0], b[0]));
        double h = Math.Max(0, Math.Min(a[3], b[3]) - Math.Max(a[1], b[1]));
        double union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - w * h;
        return union > 0 ? w * h / union : 0;
    }

    /// <summary>
    /// Annotated lesions: translucent masks, boxes and the class name — no score, because ground truth has none.
    /// </summary>
    public static Figure GroundTruth(
        Tensor image,
        Tensor boxes,
        Tensor labels,
        Tensor? masks,
        IReadOnlyList<string> classNames,
        string caption = "",
        int scale = 1,
        bool legend = false
    )
    {
        var figure = DrawGroundTruth(image, boxes, labels, masks, classNames, caption, scale);
        return legend ? WithLegend(figure, ClassLegend(classNames)) : figure;
    }

    static Figure DrawGroundTruth(
        Tensor image,
        Tensor boxes,
        Tensor labels,
        Tensor? masks,
        IReadOnlyList<string> classNames,
        string caption,
        int scale
    )
    {
        var b = Rows(boxes);
        var l = labels.ToLongArray();
        using var sketch = new Sketch(image, scale);
        for (int i = 0; i < b.Length; i++)
        {
            var color = ClassColor(l[i], classNames);
            if (masks is not null)
            {
                using var m = masks[i].to(ScalarType.Bool);
                sketch.Mask(m, color.WithAlpha(90));
            }
            sketch.Box(b[i], color, 1.5f);
            sketch.Label(Name(l[i], classNames), b[i][0], b[i][1], color);
        }
        return sketch.ToFigure(caption);
    }

    /// <summary>Legend entries for the lesion classes (skipping the background), as the class colours draw
    /// them.</summary>
    public static IReadOnlyList<LegendEntry> ClassLegend(IReadOnlyList<string> classNames, bool groundTruth = false)
    {
        var entries = Enumerable
            .Range(1, classNames.Count - 1)
            .Select(i => new LegendEntry(classNames[i], ClassColor(i, classNames)))
            .ToList();
        if (groundTruth)
            entries.Insert(0, new LegendEntry("ground truth (dashed)", SKColors.Yellow));
        return entries;
    }

    /// <summary>The figure with a legend strip below it: a colour swatch and a label per entry.</summary>
    public static Figure WithLegend(Figure figure, IReadOnlyList<LegendEntry> entries)
    {
        if (entries.Count == 0 || Font is null)
            return figure;
        using var font = new SKFont(Font, 12);
        // Lay the entries out in rows that fit the figure's width.
        var rows = new List<List<(LegendEntry Entry, float X)>> { new() };
        float x = 4,
            width = Math.Max(figure.Width, 160);
        foreach (var e in entries)
        {
            float w = 18 + font.MeasureText(e.Label) + 14;
            if (x + w > width && rows[^1].Count > 0)
            {
                rows.Add([]);
                x = 4;
            }
            rows[^1].Add((e, x));
            x += w;
        }
        int strip = rows.Count * 18 + 4;
        using var source = figure.ToBitmap();
        using var bmp = new SKBitmap((int)width, figure.Height + strip);
        using (var canvas = new SKCanvas(bmp))
        {
            canvas.Clear(SKColors.White);
            canvas.DrawBitmap(source, 0, 0);
            for (int r = 0; r < rows.Count; r++)
            {
                float y = figure.Height + 4 + r * 18;
                foreach (var (e, ex) in rows[r])
                {
                    using var swatch = new SKPaint { Color = e.Color.WithAlpha(255), IsAntialias = true };
                    using var edge = new SKPaint
                    {
                        Color = SKColors.Gray,
                        IsStroke = true,
                        StrokeWidth = 1,
                    };
                    if (e.Dotted) // a line style, not a colour: an empty square dotted as the boxes are
                        StrokeBox(canvas, [ex + 1, y + 3, ex + 11, y + 13], e.Color.WithAlpha(255), 1.5f, dotted: true);
                    else
                    {
                        canvas.DrawRect(new SKRect(ex, y + 2, ex + 12, y + 14), swatch);
                        canvas.DrawRect(new SKRect(ex, y + 2, ex + 12, y + 14), edge);
                    }
                    Text(canvas, e.Label, ex + 17, y + 12, SKColors.Black, 12);
                }
            }
        }
        return Figure.FromBitmap(bmp, figure.Caption);
    }

    /// <summary>Ground truth (dashed outline, class colour) and predictions (solid boxes, masks) on one
    /// image.</summary>
    public static Figure Compare(
        Tensor image,
        Tensor gtBoxes,
        Tensor gtLabels,
        Tensor? gtMasks,
        Detections d,
        IReadOnlyList<string> classNames,
        double minScore = 0,
        string caption = "",
        int scale = 1,
        bool legend = false,
        bool belowThreshold = false
    )
    {
        var figure = DrawCompare(
            image,
            gtBoxes,
            gtLabels,
            gtMasks,
            d,
            classNames,
            minScore,
            caption,
            scale,
            belowThreshold
        );
        var entries = ClassLegend(classNames, groundTruth: true);
        if (belowThreshold)
            entries =
            [
                .. entries,
                new LegendEntry($"dotted, in its class's colour: scored below {minScore:0.##}", SKColors.Black, true),
            ];
        return legend ? WithLegend(figure, entries) : figure;
    }

    static Figure DrawCompare(
        Tensor image,
        Tensor gtBoxes,
        Tensor gtLabels,
        Tensor? gtMasks,
        Detections d,
        IReadOnlyList<string> classNames,
        double minScore,
        string caption,
        int scale,
        bool belowThreshold
    )
    {
        var gb = Rows(gtBoxes);
        var gl = gtLabels.ToLongArray();
        using var sketch = new Sketch(image, scale);
        for (int i = 0; i < gb.Length; i++)
        {
            if (gtMasks is not null)
            {
                using var m = gtMasks[i];
                sketch.Outline(m, SKColors.Yellow);
            }
            sketch.Box(gb[i], SKColors.Yellow, 1.5f, dashed: true);
            sketch.Label($"GT {Name(gl[i], classNames)}", gb[i][0], gb[i][3], SKColors.Yellow, below: true);
        }
        DrawPredictions(sketch, d, classNames, minScore, belowThreshold);
        return sketch.ToFigure(caption);
    }

    /// <summary>Boxes (anchors, proposals…) over an image, optionally coloured per box and labelled.</summary>
    public static Figure Boxes(
        Tensor image,
        Tensor boxes,
        SKColor? color = null,
        IReadOnlyList<SKColor>? colors = null,
        IReadOnlyList<string>? labels = null,
        float width = 1f,
        string caption = "",
        int scale = 1,
        IReadOnlyList<LegendEntry>? legend = null
    )
    {
        var figure = DrawBoxes(image, boxes, color, colors, labels, width, caption, scale);
        return legend is null ? figure : WithLegend(figure, legend);
    }

    static Figure DrawBoxes(
        Tensor image,
        Tensor boxes,
        SKColor? color,
        IReadOnlyList<SKColor>? colors,
        IReadOnlyList<string>? labels,
        float width,
        string caption,
        int scale
    )
    {
        var b = Rows(boxes);
        using var sketch = new Sketch(image, scale);
        for (int i = 0; i < b.Length; i++)
        {
            var c = colors is not null && i < colors.Count ? colors[i] : color ?? SKColors.Cyan;
            sketch.Box(b[i], c, width);
            if (labels is not null && i < labels.Count && labels[i].Length > 0)
                sketch.Label(labels[i], b[i][0], b[i][1], c);
        }
        return sketch.ToFigure(caption);
    }

    /// <summary>
    /// An image enlarged <c>scale</c> times (nearest neighbour, so pixels stay visible) to draw on in image
    /// coordinates:
    /// boxes and masks are scaled with it, while labels keep their font size and stay sharp.
    /// </summary>
    internal sealed class Sketch : IDisposable
    {
        readonly SKBitmap _bitmap;
        readonly SKCanvas _canvas;
        readonly float _scale;

        /// <param name="scale">enlargement (nearest neighbour; fractional scales too, e.g. to fit two panels on a
        /// page)</param>
        public Sketch(Tensor image, float scale)
        {
            using var small = Bitmap(image);
            _bitmap =
                scale == 1
                    ? small.Copy()
                    : small.Resize(
                        new SKImageInfo((int)Math.Round(small.Width * scale), (int)Math.Round(small.Height * scale)),
                        new SKSamplingOptions(SKFilterMode.Nearest)
                    );
            _scale = (float)_bitmap.Width / small.Width;
            _canvas = new SKCanvas(_bitmap);
        }

        public void Box(float[] b, SKColor color, float width, bool dashed = false, bool dotted = false) =>
            StrokeBox(_canvas, b.Select(v => v * _scale).ToArray(), color, width * _scale, dashed, dotted);

        /// <summary>A label above the point (x, y) of the image, or below it.</summary>
        public void Label(string text, float x, float y, SKColor color, bool below = false) =>
            Draw.Label(_canvas, text, x * _scale, y * _scale + (below ? LabelSize + 2 : 0), color);

        /// <summary>A box given as a [4] tensor.</summary>
        public void Box(Tensor box, SKColor color, float width, bool dashed = false, bool dotted = false) =>
            Box(box.to(float32).ToFloatArray(), color, width, dashed, dotted);

        /// <summary>A label above a box given as a [4] tensor.</summary>
        public void Label(string text, Tensor box, SKColor color)
        {
            var b = box.to(float32).ToFloatArray();
            Label(text, b[0], b[1], color);
        }

        public void Mask(Tensor mask, SKColor color) => FillMask(_canvas, mask, color, _scale);

        /// <summary>A filled rectangle (x1, y1, x2, y2 in image pixels).</summary>
        public void Fill(float[] b, SKColor color)
        {
            using var paint = new SKPaint { Color = color };
            _canvas.DrawRect(new SKRect(b[0] * _scale, b[1] * _scale, b[2] * _scale, b[3] * _scale), paint);
        }

        public void Outline(Tensor mask, SKColor color)
        {
            using var scope = NewDisposeScope();
            var m = mask.to(float32).unsqueeze(0).unsqueeze(0);
            var eroded = -nn.functional.max_pool2d(-m, 3, 1, 1);
            FillMask(_canvas, (m - eroded).gt(0.5f)[0, 0], color, _scale);
        }

        public Figure ToFigure(string caption) => Figure.FromBitmap(_bitmap, caption);

        public void Dispose()
        {
            _canvas.Dispose();
            _bitmap.Dispose();
        }
    }

    /// <summary>
    /// A grid of small maps (e.g. 28×28 masks or feature channels). Each map is scaled to its own min–max unless
    /// <paramref name="range"/> fixes one scale for all; a colour bar below says what the colours mean
    /// (<paramref name="scaleLabel"/> names the quantity).
    /// </summary>
    public static Figure MapGrid(
        Tensor maps,
        int columns = 8,
        int cell = 56,
        IReadOnlyList<string>? titles = null,
        string caption = "",
        bool heat = true,
        (double Low, double High)? range = null,
        string? scaleLabel = null
    )
    {
        using var scope = NewDisposeScope();
        var m = maps.detach().cpu().to(float32);
        if (m.dim() == 4)
            m = m.flatten(0, 1);
        int n = (int)m.shape[0],
            rows = Math.Max(1, (n + columns - 1) / columns);
        int titleH = titles is null ? 0 : 16;
        int gridH = rows * (cell + 2 + titleH);
        int barH = n == 0 ? 0 : ColorBarHeight;
        string low = range is null ? "min" : StaticChart.FormatValue(range.Value.Low);
        string high = range is null ? "max" : StaticChart.FormatValue(range.Value.High);
        string label = scaleLabel ?? (range is null ? "each map scaled to its own min–max" : "");
        int width = Math.Max(
            columns * (cell + 2),
            n == 0 ? 0 : Math.Max(ColorBarWidth(low, high), (int)Math.Ceiling(TextWidth(label, 12) + 8))
        );
        using var bmp = new SKBitmap(width, gridH + barH);
        using var canvas = new SKCanvas(bmp);
        canvas.Clear(SKColors.White);
        for (int i = 0; i < n; i++)
        {
            var map = m[i];
            float lo = range is { } r ? (float)r.Low : map.min().item<float>();
            float hi = range is { } r2 ? (float)r2.High : map.max().item<float>();
            var norm = hi > lo ? ((map - lo) / (hi - lo)).clamp(0, 1) : map.zeros_like();
            using var tile = heat ? HeatBitmap(norm) : Bitmap(norm);
            int x = i % columns * (cell + 2),
                y = i / columns * (cell + 2 + titleH);
            canvas.DrawBitmap(
                tile,
                new SKRect(x, y + titleH, x + cell, y + titleH + cell),
                new SKPaint { IsAntialias = false }
            );
            if (titles is not null && i < titles.Count)
                Text(canvas, Fit(titles[i], cell, 12), x, y + 12, SKColors.Black, 12);
        }
        if (n == 0)
            Text(canvas, "(none)", 4, titleH + cell / 2 + 4, SKColors.Gray, 12);
        else
            DrawColorBar(canvas, 0, gridH, heat, low, high, label);
        return Figure.FromBitmap(bmp, caption);
    }

    /// <summary>
    /// First-layer convolution filters [N, 3, k, k] as colour tiles (RGB = the filter's weights on the R, G, B inputs),
    /// each scaled to its own min–max: grey = near its minimum…maximum midpoint.
    /// </summary>
    public static Figure FilterGrid(Tensor weights, int columns = 16, int cell = 28, string caption = "")
    {
        using var scope = NewDisposeScope();
        var w = weights.detach().cpu().to(float32);
        int n = (int)w.shape[0];
        int rows = Math.Max(1, (n + columns - 1) / columns);
        using var bmp = new SKBitmap(columns * (cell + 2), rows * (cell + 2) + ColorBarHeight);
        using var canvas = new SKCanvas(bmp);
        canvas.Clear(SKColors.White);
        for (int i = 0; i < n; i++)
        {
            var f = w[i];
            float lo = f.min().item<float>(),
                hi = f.max().item<float>();
            var unit = hi > lo ? (f - lo) / (hi - lo) : f.zeros_like() + 0.5f;
            using var tile = Bitmap(unit);
            int x = i % columns * (cell + 2),
                y = i / columns * (cell + 2);
            canvas.DrawBitmap(tile, new SKRect(x, y, x + cell, y + cell), new SKPaint { IsAntialias = false });
        }
        Text(
            canvas,
            "colour = weights on R, G, B, each filter scaled to its own range",
            4,
            rows * (cell + 2) + 20,
            SKColors.DimGray,
            12
        );
        return Figure.FromBitmap(bmp, caption);
    }

    /// <summary>A 2-D map as a colour heatmap (blue → red) scaled to its range, with a colour bar giving that
    /// range.</summary>
    public static Figure Heatmap(Tensor map, string caption = "", int scale = 1, string? scaleLabel = null)
    {
        using var scope = NewDisposeScope();
        var m = map.detach().cpu().to(float32);
        float lo = m.min().item<float>(),
            hi = m.max().item<float>();
        using var heat = HeatBitmap(hi > lo ? (m - lo) / (hi - lo) : m.zeros_like());
        using var big = heat.Resize(
            new SKImageInfo(heat.Width * scale, heat.Height * scale),
            new SKSamplingOptions(SKFilterMode.Nearest)
        );
        string low = StaticChart.FormatValue(lo);
        string high = StaticChart.FormatValue(hi);
        using var bmp = new SKBitmap(Math.Max(big.Width, ColorBarWidth(low, high)), big.Height + ColorBarHeight);
        using (var canvas = new SKCanvas(bmp))
        {
            canvas.Clear(SKColors.White);
            canvas.DrawBitmap(big, 0, 0);
            DrawColorBar(canvas, 0, big.Height, true, low, high, scaleLabel ?? "");
        }
        return Figure.FromBitmap(bmp, caption);
    }

    const int ColorBarHeight = 38;
    const int ColorBarMinWidth = 200;
    const int ColorBarRampWidth = 120;

    /// <summary>The width a colour bar needs with these end labels (at least <see cref="ColorBarMinWidth"/>), so
    /// that a long value such as "-0.0412" is never cut at the figure's edge.</summary>
    static int ColorBarWidth(string low, string high) =>
        Math.Max(
            ColorBarMinWidth,
            (int)Math.Ceiling(4 + TextWidth(low, 12) + 4 + ColorBarRampWidth + 4 + TextWidth(high, 12) + 4)
        );

    /// <summary>A horizontal colour bar (the heat or gray scale) with its end values and what it measures.</summary>
    static void DrawColorBar(SKCanvas canvas, int x, int y, bool heat, string low, string high, string label)
    {
        const int barWidth = ColorBarRampWidth,
            barHeight = 10;
        using var ramp = new SKBitmap(barWidth, 1);
        for (int i = 0; i < barWidth; i++)
        {
            float t = i / (float)(barWidth - 1);
            ramp.SetPixel(i, 0, heat ? HeatColor(t) : new SKColor((byte)(t * 255), (byte)(t * 255), (byte)(t * 255)));
        }
        float left = x + 4 + TextWidth(low, 12) + 4;
        Text(canvas, low, x + 4, y + 14, SKColors.Black, 12);
        canvas.DrawBitmap(ramp, new SKRect(left, y + 4, left + barWidth, y + 4 + barHeight));
        using var edge = new SKPaint
        {
            Color = SKColors.Gray,
            IsStroke = true,
            StrokeWidth = 1,
        };
        canvas.DrawRect(new SKRect(left, y + 4, left + barWidth, y + 4 + barHeight), edge);
        Text(canvas, high, left + barWidth + 4, y + 14, SKColors.Black, 12);
        Text(canvas, label, x + 4, y + 32, SKColors.DimGray, 12);
    }

    internal static float TextWidth(string text, float size)
    {
        if (Font is null)
            return text.Length * size * 0.6f;
        using var font = new SKFont(Font, size);
        return font.MeasureText(text);
    }

    /// <summary>The figure enlarged <paramref name="scale"/> times (nearest neighbour: pixels stay visible).</summary>
    public static Figure Scale(Figure figure, int scale)
    {
        if (scale == 1)
            return figure;
        using var bmp = figure.ToBitmap();
        return Scaled(bmp, scale, figure.Caption);
    }

    /// <summary>
    /// matterport's display_top_masks: the image, then one panel per class present (most pixels first, at most
    /// <paramref name="limit"/>) showing the union of that class's masks in white.
    /// </summary>
    public static Figure ClassMasks(
        Tensor image,
        Tensor masks,
        Tensor labels,
        IReadOnlyList<string> classNames,
        int limit = 4,
        int scale = 1
    )
    {
        using var scope = NewDisposeScope();
        var panels = new List<Figure> { Image(image, "image", scale) };
        var l = labels.ToLongArray();
        var perClass = l.Distinct()
            .Select(c =>
                (
                    Class: c,
                    Mask: masks[
                        tensor(Enumerable.Range(0, l.Length).Where(i => l[i] == c).Select(i => (long)i).ToArray())
                    ]
                        .ne(0)
                        .any(0)
                )
            )
            .OrderByDescending(x => x.Mask.sum().item<long>())
            .Take(limit);
        foreach (var (c, mask) in perClass)
            panels.Add(Image(mask.to(float32), $"{Name(c, classNames)} ({mask.sum().item<long>()} px)", scale));
        if (panels.Count == 1)
            panels.Add(Image(zeros_like(image[0]), "no lesion (normal image)", scale));
        return Grid(panels, columns: panels.Count);
    }

    /// <summary>
    /// The widest picture a notebook shows at its own size (px): a browser shrinks wider ones to the page, and their
    /// text with them, below what a reader can read.
    /// </summary>
    public const int MaxWidth = 960;

    /// <summary>
    /// Figures side by side in a grid with captions (wrapped to two lines under each panel). Fewer columns than
    /// asked when the row would be wider than <see cref="MaxWidth"/>.
    /// </summary>
    public static Figure Grid(IReadOnlyList<Figure> figures, int columns = 3, string caption = "")
    {
        if (figures.Count == 0)
            return Nothing(caption);
        int cw = figures.Max(f => f.Width),
            ch = figures.Max(f => f.Height);
        columns = Math.Clamp(Math.Min(columns, MaxWidth / (cw + 6)), 1, figures.Count);
        var captions = figures.Select(f => Wrap(f.Caption, cw, 12, maxLines: 2)).ToList();
        int title = captions.Max(c => c.Count) * 15 + 3;
        int rows = (figures.Count + columns - 1) / columns;
        using var bmp = new SKBitmap(columns * (cw + 6), rows * (ch + title + 6));
        using var canvas = new SKCanvas(bmp);
        canvas.Clear(SKColors.White);
        for (int i = 0; i < figures.Count; i++)
        {
            using var b = figures[i].ToBitmap();
            int x = i % columns * (cw + 6),
                y = i / columns * (ch + title + 6);
            for (int line = 0; line < captions[i].Count; line++)
                Text(canvas, captions[i][line], x, y + 12 + 15 * line, SKColors.Black, 12);
            canvas.DrawBitmap(b, x, y + title);
        }
        return Figure.FromBitmap(bmp, caption);
    }

    /// <summary>Figures one under another (each at its own size), e.g. a picture and the small maps that go with
    /// it.</summary>
    public static Figure Stack(IReadOnlyList<Figure> figures, string caption = "")
    {
        if (figures.Count == 0)
            return Nothing(caption);
        int width = figures.Max(f => f.Width);
        int height = figures.Sum(f => f.Height + 6);
        using var bmp = new SKBitmap(width, height);
        using (var canvas = new SKCanvas(bmp))
        {
            canvas.Clear(SKColors.White);
            int y = 0;
            foreach (var f in figures)
            {
                using var b = f.ToBitmap();
                canvas.DrawBitmap(b, 0, y);
                y += f.Height + 6;
            }
        }
        return Figure.FromBitmap(bmp, caption);
    }

    /// <summary>The text broken into lines no wider than <paramref name="width"/> px (the last one cut with
    /// "…").</summary>
    static List<string> Wrap(string text, float width, float size, int maxLines)
    {
        var lines = new List<string>();
        string current = "";
        foreach (var word in text.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            string tried = current.Length == 0 ? word : current + " " + word;
            if (TextWidth(tried, size) <= width || current.Length == 0)
                current = tried;
            else
            {
                lines.Add(current);
                current = word;
            }
        }
        if (current.Length > 0)
            lines.Add(current);
        if (lines.Count > maxLines)
        {
            lines = lines.Take(maxLines).ToList();
            lines[^1] += " …";
        }
        return lines.Select(l => Fit(l, width, size)).ToList();
    }

    /// <summary>The text, cut with "…" to fit <paramref name="width"/> px.</summary>
    static string Fit(string text, float width, float size)
    {
        if (TextWidth(text, size) <= width)
            return text;
        while (text.Length > 1 && TextWidth(text + "…", size) > width)
            text = text[..^1];
        return text + "…";
    }

    /// <summary>A small "(none)" placeholder, for grids with nothing to show.</summary>
    static Figure Nothing(string caption)
    {
        using var bmp = new SKBitmap(120, 24);
        using (var canvas = new SKCanvas(bmp))
        {
            canvas.Clear(SKColors.White);
            Text(canvas, "(none)", 4, 16, SKColors.Gray, 12);
        }
        return Figure.FromBitmap(bmp, caption);
    }

    // ---- primitives --------------------------------------------------------------------------------

    static string Name(long label, IReadOnlyList<string> names) =>
        label >= 0 && label < names.Count ? names[(int)label] : $"class {label}";

    internal static float[][] Rows(Tensor boxes)
    {
        var flat = boxes.ToFloatArray();
        return Enumerable.Range(0, flat.Length / 4).Select(i => flat[(i * 4)..(i * 4 + 4)]).ToArray();
    }

    static void StrokeBox(
        SKCanvas canvas,
        float[] b,
        SKColor color,
        float width,
        bool dashed = false,
        bool dotted = false
    )
    {
        using var paint = new SKPaint
        {
            Color = color,
            IsStroke = true,
            StrokeWidth = width,
            IsAntialias = true,
        };
        if (dashed)
            paint.PathEffect = SKPathEffect.CreateDash([4, 3], 0);
        if (dotted)
            paint.PathEffect = SKPathEffect.CreateDash([1.5f, 2.5f], 0);
        canvas.DrawRect(new SKRect(b[0], b[1], b[2], b[3]), paint);
    }

    /// <summary>Label text size (px): every label a reader sees is at least 11 px.</summary>
    public const float LabelSize = 12;

    /// <summary>
    /// A label whose bottom-left corner is (x, y), kept inside the canvas: the text in a lightened version of
    /// <paramref name="color"/> on a nearly opaque dark band, so that red or blue text stays readable on any
    /// image.
    /// </summary>
    static void Label(SKCanvas canvas, string text, float x, float y, SKColor color)
    {
        if (Font is null)
            return;
        using var font = new SKFont(Font, LabelSize);
        using var bg = new SKPaint { Color = new SKColor(0, 0, 0, 200) };
        float w = font.MeasureText(text);
        var bounds = canvas.DeviceClipBounds;
        x = Math.Clamp(x, 0, Math.Max(0, bounds.Right - w - 4));
        y = Math.Clamp(y, LabelSize + 1, Math.Max(LabelSize + 1, bounds.Bottom - 3));
        canvas.DrawRect(new SKRect(x, y - LabelSize - 1, x + w + 4, y + 3), bg);
        using var paint = new SKPaint { Color = Lighten(color), IsAntialias = true };
        canvas.DrawText(text, x + 2, y, font, paint);
    }

    /// <summary>The colour mixed 45 % towards white (readable on black).</summary>
    static SKColor Lighten(SKColor c) =>
        new(
            (byte)(c.Red + (255 - c.Red) * 0.45),
            (byte)(c.Green + (255 - c.Green) * 0.45),
            (byte)(c.Blue + (255 - c.Blue) * 0.45)
        );

    internal static void Text(SKCanvas canvas, string text, float x, float y, SKColor color, float size)
    {
        if (Font is null || text.Length == 0)
            return;
        using var font = new SKFont(Font, size);
        using var paint = new SKPaint { Color = color, IsAntialias = true };
        canvas.DrawText(text, x, y, font, paint);
    }

    /// <summary>Paints the mask's pixels in <paramref name="color"/>, each <paramref name="scale"/> × <paramref
    /// name="scale"/> canvas pixels.</summary>
    static void FillMask(SKCanvas canvas, Tensor mask, SKColor color, float scale = 1)
    {
        int h = (int)mask.shape[0],
            w = (int)mask.shape[1];
        var m = mask.to(ScalarType.Byte).cpu().contiguous().data<byte>().ToArray();
        using var overlay = new SKBitmap(new SKImageInfo(w, h, SKColorType.Rgba8888, SKAlphaType.Unpremul));
        var px = overlay.GetPixelSpan();
        for (int i = 0; i < w * h; i++)
            if (m[i] != 0)
            {
                px[i * 4] = color.Red;
                px[i * 4 + 1] = color.Green;
                px[i * 4 + 2] = color.Blue;
                px[i * 4 + 3] = color.Alpha;
            }
        using var image = SKImage.FromBitmap(overlay);
        canvas.DrawImage(image, new SKRect(0, 0, w * scale, h * scale), new SKSamplingOptions(SKFilterMode.Nearest));
    }

    static SKBitmap HeatBitmap(Tensor unit)
    {
        int h = (int)unit.shape[0],
            w = (int)unit.shape[1];
        var v = unit.contiguous().data<float>().ToArray();
        var bmp = new SKBitmap(new SKImageInfo(w, h, SKColorType.Rgba8888, SKAlphaType.Premul));
        var px = bmp.GetPixelSpan();
        for (int i = 0; i < w * h; i++)
        {
            var c = HeatColor(v[i]);
            px[i * 4] = c.Red;
            px[i * 4 + 1] = c.Green;
            px[i * 4 + 2] = c.Blue;
            px[i * 4 + 3] = 255;
        }
        return bmp;
    }

    /// <summary>A map of values in [0, 1] as an RGB image [3, H, W] in the heat scale (to draw boxes on).</summary>
    public static Tensor HeatImage(Tensor unit)
    {
        using var scope = NewDisposeScope();
        var t = unit.to(float32).clamp(0, 1);
        var r = (2 * t - 0.5f).clamp(0, 1);
        var g = (1.5f - (2 * t - 1).abs() * 1.5f).clamp(0, 1);
        var b = (1.2f - 2 * t).clamp(0, 1);
        return stack([r, g, b]).MoveToOuterDisposeScope();
    }

    /// <summary>The heat scale: blue (0) → cyan → yellow → red (1).</summary>
    static SKColor HeatColor(float value)
    {
        float t = Math.Clamp(value, 0, 1);
        float r = Math.Clamp(2 * t - 0.5f, 0, 1),
            g = Math.Clamp(1.5f - Math.Abs(2 * t - 1) * 1.5f, 0, 1),
            b = Math.Clamp(1.2f - 2 * t, 0, 1);
        return new SKColor((byte)(r * 255), (byte)(g * 255), (byte)(b * 255));
    }
}
