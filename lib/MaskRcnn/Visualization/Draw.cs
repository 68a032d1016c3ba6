using MaskRcnn.Modeling;
using SkiaSharp;
using TorchSharp;
using static TorchSharp.torch;

namespace MaskRcnn.Visualization;

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
        new(160, 160, 160), new(60, 220, 90), new(240, 60, 60), new(70, 150, 255), new(255, 190, 40),
        new(200, 90, 255), new(40, 220, 220), new(255, 120, 180), new(150, 110, 60),
    ];

    static SKTypeface? _font;
    static SKTypeface? Font => _font ??= new[]
    {
        "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", "/usr/share/fonts/dejavu/DejaVuSans.ttf",
        "/usr/share/fonts/truetype/liberation2/LiberationSans-Regular.ttf", "/Library/Fonts/Arial.ttf", @"C:\Windows\Fonts\arial.ttf",
    }.Where(File.Exists).Select(SKTypeface.FromFile).FirstOrDefault();

    /// <summary>The image as a bitmap (grayscale [H, W] or RGB [3, H, W], values in [0, 1]).</summary>
    public static SKBitmap Bitmap(Tensor image)
    {
        using var scope = NewDisposeScope();
        var t = image.dim() == 2 ? image.unsqueeze(0).expand(3, -1, -1) : image;
        if (t.shape[0] == 1) t = t.expand(3, -1, -1);
        int h = (int)t.shape[1], w = (int)t.shape[2];
        var bytes = (t.detach().cpu().to(float32).clamp(0, 1) * 255).round().to(ScalarType.Byte).permute(1, 2, 0).contiguous();
        var rgb = bytes.data<byte>().ToArray();
        var bmp = new SKBitmap(new SKImageInfo(w, h, SKColorType.Rgba8888, SKAlphaType.Premul));
        var px = bmp.GetPixelSpan();
        for (int i = 0; i < w * h; i++)
        {
            px[i * 4] = rgb[i * 3]; px[i * 4 + 1] = rgb[i * 3 + 1]; px[i * 4 + 2] = rgb[i * 3 + 2]; px[i * 4 + 3] = 255;
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
        if (scale == 1) return Figure.FromBitmap(bmp, caption);
        using var big = bmp.Resize(new SKImageInfo(bmp.Width * scale, bmp.Height * scale), new SKSamplingOptions(SKFilterMode.Nearest));
        return Figure.FromBitmap(big, caption);
    }

    /// <summary>Detections over the image: translucent masks, boxes, "class score" labels.</summary>
    public static Figure Detections(Tensor image, Detections d, IReadOnlyList<string> classNames, double minScore = 0, string caption = "", int scale = 1)
    {
        var (boxes, labels, scores) = d.ToArrays();
        using var bmp = Bitmap(image);
        using (var canvas = new SKCanvas(bmp))
        {
            for (int i = 0; i < boxes.Length; i++)
            {
                if (scores[i] < minScore) continue;
                var color = ClassColor(labels[i], classNames);
                if (d.Masks is not null) { using var m = d.Masks[i]; FillMask(canvas, m, color.WithAlpha(90)); }
                StrokeBox(canvas, boxes[i], color, 1.5f);
                Label(canvas, $"{Name(labels[i], classNames)} {scores[i]:F2}", boxes[i][0], boxes[i][1], color);
            }
        }
        return Scaled(bmp, scale, caption);
    }

    /// <summary>Ground truth (dashed outline, class colour) and predictions (solid boxes, masks) on one image.</summary>
    public static Figure Compare(Tensor image, Tensor gtBoxes, Tensor gtLabels, Tensor? gtMasks, Detections d, IReadOnlyList<string> classNames,
                                 double minScore = 0, string caption = "", int scale = 1)
    {
        var (boxes, labels, scores) = d.ToArrays();
        var gb = Rows(gtBoxes);
        var gl = gtLabels.ToLongArray();
        using var bmp = Bitmap(image);
        using (var canvas = new SKCanvas(bmp))
        {
            for (int i = 0; i < gb.Length; i++)
            {
                if (gtMasks is not null) { using var m = gtMasks[i]; OutlineMask(canvas, m, SKColors.Yellow); }
                StrokeBox(canvas, gb[i], SKColors.Yellow, 1.5f, dashed: true);
                Label(canvas, $"GT {Name(gl[i], classNames)}", gb[i][0], gb[i][3] + 12, SKColors.Yellow);
            }
            for (int i = 0; i < boxes.Length; i++)
            {
                if (scores[i] < minScore) continue;
                var color = ClassColor(labels[i], classNames);
                if (d.Masks is not null) { using var m = d.Masks[i]; FillMask(canvas, m, color.WithAlpha(80)); }
                StrokeBox(canvas, boxes[i], color, 1.5f);
                Label(canvas, $"{Name(labels[i], classNames)} {scores[i]:F2}", boxes[i][0], boxes[i][1], color);
            }
        }
        return Scaled(bmp, scale, caption);
    }

    /// <summary>Boxes (anchors, proposals…) over an image, optionally coloured per box and labelled.</summary>
    public static Figure Boxes(Tensor image, Tensor boxes, SKColor? color = null, IReadOnlyList<SKColor>? colors = null,
                               IReadOnlyList<string>? labels = null, float width = 1f, string caption = "", int scale = 1)
    {
        var b = Rows(boxes);
        using var bmp = Bitmap(image);
        using (var canvas = new SKCanvas(bmp))
        {
            for (int i = 0; i < b.Length; i++)
            {
                var c = colors is not null && i < colors.Count ? colors[i] : color ?? SKColors.Cyan;
                StrokeBox(canvas, b[i], c, width);
                if (labels is not null && i < labels.Count && labels[i].Length > 0) Label(canvas, labels[i], b[i][0], b[i][1], c);
            }
        }
        return Scaled(bmp, scale, caption);
    }

    /// <summary>A grid of small maps (e.g. 28×28 masks or feature channels), each normalised to its own range.</summary>
    public static Figure MapGrid(Tensor maps, int columns = 8, int cell = 56, IReadOnlyList<string>? titles = null, string caption = "", bool heat = true)
    {
        using var scope = NewDisposeScope();
        var m = maps.detach().cpu().to(float32);
        if (m.dim() == 4) m = m.flatten(0, 1);
        int n = (int)m.shape[0], rows = Math.Max(1, (n + columns - 1) / columns);
        int titleH = titles is null ? 0 : 14;
        using var bmp = new SKBitmap(columns * (cell + 2), rows * (cell + 2 + titleH));
        using var canvas = new SKCanvas(bmp);
        canvas.Clear(SKColors.White);
        for (int i = 0; i < n; i++)
        {
            var map = m[i];
            float lo = map.min().item<float>(), hi = map.max().item<float>();
            var norm = hi > lo ? (map - lo) / (hi - lo) : map.zeros_like();
            using var tile = heat ? HeatBitmap(norm) : Bitmap(norm);
            int x = i % columns * (cell + 2), y = i / columns * (cell + 2 + titleH);
            canvas.DrawBitmap(tile, new SKRect(x, y + titleH, x + cell, y + titleH + cell), new SKPaint { IsAntialias = false });
            if (titles is not null && i < titles.Count) Text(canvas, titles[i], x, y + 11, SKColors.Black, 10);
        }
        if (n == 0) Text(canvas, "(none)", 4, titleH + cell / 2 + 4, SKColors.Gray, 12);
        return Figure.FromBitmap(bmp, caption);
    }

    /// <summary>A 2-D map as a colour heatmap (blue → red), values normalised to their range.</summary>
    public static Figure Heatmap(Tensor map, string caption = "", int scale = 1)
    {
        using var scope = NewDisposeScope();
        var m = map.detach().cpu().to(float32);
        float lo = m.min().item<float>(), hi = m.max().item<float>();
        using var bmp = HeatBitmap(hi > lo ? (m - lo) / (hi - lo) : m.zeros_like());
        return Scaled(bmp, scale, caption);
    }

    /// <summary>Figures side by side in a grid with captions.</summary>
    public static Figure Grid(IReadOnlyList<Figure> figures, int columns = 3, string caption = "")
    {
        if (figures.Count == 0) return Nothing(caption);
        int cw = figures.Max(f => f.Width), ch = figures.Max(f => f.Height), title = 16;
        int rows = (figures.Count + columns - 1) / columns;
        using var bmp = new SKBitmap(columns * (cw + 6), rows * (ch + title + 6));
        using var canvas = new SKCanvas(bmp);
        canvas.Clear(SKColors.White);
        for (int i = 0; i < figures.Count; i++)
        {
            using var b = figures[i].ToBitmap();
            int x = i % columns * (cw + 6), y = i / columns * (ch + title + 6);
            Text(canvas, figures[i].Caption, x, y + 12, SKColors.Black, 12);
            canvas.DrawBitmap(b, x, y + title);
        }
        return Figure.FromBitmap(bmp, caption);
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

    static string Name(long label, IReadOnlyList<string> names) => label >= 0 && label < names.Count ? names[(int)label] : $"class {label}";

    static float[][] Rows(Tensor boxes)
    {
        var flat = boxes.ToFloatArray();
        return Enumerable.Range(0, flat.Length / 4).Select(i => flat[(i * 4)..(i * 4 + 4)]).ToArray();
    }

    static void StrokeBox(SKCanvas canvas, float[] b, SKColor color, float width, bool dashed = false)
    {
        using var paint = new SKPaint { Color = color, IsStroke = true, StrokeWidth = width, IsAntialias = true };
        if (dashed) paint.PathEffect = SKPathEffect.CreateDash([4, 3], 0);
        canvas.DrawRect(new SKRect(b[0], b[1], b[2], b[3]), paint);
    }

    static void Label(SKCanvas canvas, string text, float x, float y, SKColor color)
    {
        if (Font is null) return;
        using var font = new SKFont(Font, 11);
        using var bg = new SKPaint { Color = new SKColor(0, 0, 0, 150) };
        float w = font.MeasureText(text);
        y = Math.Max(12, y);
        canvas.DrawRect(new SKRect(x, y - 11, x + w + 4, y + 2), bg);
        using var paint = new SKPaint { Color = color, IsAntialias = true };
        canvas.DrawText(text, x + 2, y - 1, font, paint);
    }

    static void Text(SKCanvas canvas, string text, float x, float y, SKColor color, float size)
    {
        if (Font is null || text.Length == 0) return;
        using var font = new SKFont(Font, size);
        using var paint = new SKPaint { Color = color, IsAntialias = true };
        canvas.DrawText(text, x, y, font, paint);
    }

    static void FillMask(SKCanvas canvas, Tensor mask, SKColor color)
    {
        int h = (int)mask.shape[0], w = (int)mask.shape[1];
        var m = mask.to(ScalarType.Byte).cpu().contiguous().data<byte>().ToArray();
        using var overlay = new SKBitmap(new SKImageInfo(w, h, SKColorType.Rgba8888, SKAlphaType.Unpremul));
        var px = overlay.GetPixelSpan();
        for (int i = 0; i < w * h; i++)
            if (m[i] != 0) { px[i * 4] = color.Red; px[i * 4 + 1] = color.Green; px[i * 4 + 2] = color.Blue; px[i * 4 + 3] = color.Alpha; }
        canvas.DrawBitmap(overlay, 0, 0);
    }

    static void OutlineMask(SKCanvas canvas, Tensor mask, SKColor color)
    {
        using var scope = NewDisposeScope();
        var m = mask.to(float32).unsqueeze(0).unsqueeze(0);
        var eroded = -nn.functional.max_pool2d(-m, 3, 1, 1);
        var edge = (m - eroded).gt(0.5f)[0, 0];
        FillMask(canvas, edge, color);
    }

    static SKBitmap HeatBitmap(Tensor unit)
    {
        int h = (int)unit.shape[0], w = (int)unit.shape[1];
        var v = unit.contiguous().data<float>().ToArray();
        var bmp = new SKBitmap(new SKImageInfo(w, h, SKColorType.Rgba8888, SKAlphaType.Premul));
        var px = bmp.GetPixelSpan();
        for (int i = 0; i < w * h; i++)
        {
            float t = Math.Clamp(v[i], 0, 1);
            // blue → cyan → yellow → red
            float r = Math.Clamp(2 * t - 0.5f, 0, 1), g = Math.Clamp(1.5f - Math.Abs(2 * t - 1) * 1.5f, 0, 1), b = Math.Clamp(1.2f - 2 * t, 0, 1);
            px[i * 4] = (byte)(r * 255); px[i * 4 + 1] = (byte)(g * 255); px[i * 4 + 2] = (byte)(b * 255); px[i * 4 + 3] = 255;
        }
        return bmp;
    }
}
