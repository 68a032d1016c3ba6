using MaskRcnn.Visualization;
using SkiaSharp;

namespace MaskRcnn.Teaching;

/// <summary>
/// The comparison of the generations as two pictures: where each one's time goes (one stacked bar per generation,
/// a segment per component, the total written at its end; a second panel without the slowest when it is more than
/// five times the fastest), and box AP50 with its bootstrap interval (a dot and a whisker per generation, the
/// numbers beside it).
/// Each generation keeps one colour; text is 12–15 px; the pictures are 900 px wide.
/// </summary>
public static class ComparisonCharts
{
    const int Width = 900,
        LabelWidth = 250,
        Right = 110,
        Row = 34;

    static readonly SKColor[] ComponentColors =
    [
        new(230, 85, 13), // proposals
        new(253, 174, 107), // warping
        new(49, 130, 189), // backbone
        new(116, 196, 118), // region heads
        new(158, 118, 186), // mask head
        new(170, 170, 170), // other
    ];

    static readonly SKColor[] GenerationColors =
    [
        new(214, 39, 40),
        new(255, 127, 14),
        new(31, 119, 180),
        new(44, 160, 44),
        new(148, 103, 189),
    ];

    /// <summary>Seconds per image by component, one stacked bar per generation.</summary>
    public static Figure Time(RcnnFamily.Comparison comparison, string caption = "")
    {
        var rows = comparison.Scores.Select(s => (s.Name, s.SecondsPerImage)).ToList();
        double max = rows.Max(r => r.SecondsPerImage.Total);
        var rest = rows.Where(r => r.SecondsPerImage.Total < max).ToList();
        bool zoom = rest.Count > 1 && max > 5 * rest.Min(r => r.SecondsPerImage.Total);
        int panel = 46 + Row * rows.Count + 30;
        int zoomPanel = zoom ? 46 + Row * rest.Count + 30 : 0;
        using var bmp = new SKBitmap(Width, 34 + panel + zoomPanel);
        using (var canvas = new SKCanvas(bmp))
        {
            canvas.Clear(SKColors.White);
            Legend(canvas, 8, 20);
            StackedPanel(canvas, 34, "seconds per image, by component", rows);
            if (zoom)
                StackedPanel(canvas, 34 + panel, "the same without the slowest, on its own scale", rest);
        }
        return Figure.FromBitmap(bmp, caption);
    }

    static void Legend(SKCanvas canvas, float x, float y)
    {
        var names = RcnnFamily.ComponentSeconds.Zero.Parts.Select(p => p.Name).ToList();
        for (int i = 0; i < names.Count; i++)
        {
            using var swatch = new SKPaint { Color = ComponentColors[i] };
            canvas.DrawRect(new SKRect(x, y - 11, x + 14, y + 1), swatch);
            x += 19;
            x += Text(canvas, names[i], x, y, 13) + 18;
        }
    }

    static void StackedPanel(
        SKCanvas canvas,
        float top,
        string title,
        IReadOnlyList<(string Name, RcnnFamily.ComponentSeconds Seconds)> rows
    )
    {
        Text(canvas, title, 8, top + 22, 15, bold: true);
        double max = rows.Max(r => r.Seconds.Total);
        double step = TickStep(max);
        double axisMax = Math.Ceiling(max / step) * step;
        float x0 = LabelWidth,
            x1 = Width - Right,
            y0 = top + 40;
        float Scale(double v) => x0 + (float)(v / axisMax) * (x1 - x0);
        for (int r = 0; r < rows.Count; r++)
        {
            float y = y0 + r * Row;
            Text(canvas, rows[r].Name, 8, y + 20, 13);
            double at = 0;
            var parts = rows[r].Seconds.Parts;
            for (int p = 0; p < parts.Count; p++)
            {
                using var fill = new SKPaint { Color = ComponentColors[p] };
                canvas.DrawRect(new SKRect(Scale(at), y + 5, Scale(at + parts[p].Seconds), y + Row - 5), fill);
                at += parts[p].Seconds;
            }
            Text(canvas, $"{rows[r].Seconds.Total:F3} s", Scale(at) + 6, y + 20, 13);
        }
        float axisY = y0 + rows.Count * Row + 4;
        using var ink = new SKPaint { Color = SKColors.Gray, StrokeWidth = 1 };
        canvas.DrawLine(x0, axisY, x1, axisY, ink);
        for (double t = 0; t <= axisMax + 1e-9; t += step)
        {
            canvas.DrawLine(Scale(t), axisY, Scale(t), axisY + 4, ink);
            string label = $"{t:0.###} s";
            Text(canvas, label, Scale(t) - TextWidth(label, 12) / 2, axisY + 18, 12);
        }
    }

    /// <summary>Box AP50 with its interval: a dot and a whisker per generation on a 0–1 axis.</summary>
    public static Figure Accuracy(RcnnFamily.Comparison comparison, string caption = "")
    {
        var scores = comparison.Scores;
        int height = 46 + Row * scores.Count + 34;
        using var bmp = new SKBitmap(Width, height);
        using (var canvas = new SKCanvas(bmp))
        {
            canvas.Clear(SKColors.White);
            string title = $"box AP50 and its {comparison.Scores[0].BoxAP50.Level:P0} bootstrap interval";
            Text(canvas, title, 8, 22, 15, bold: true);
            float x0 = LabelWidth,
                x1 = Width - 200,
                y0 = 40;
            float Scale(double v) => x0 + (float)Math.Clamp(v, 0, 1) * (x1 - x0);
            using var grid = new SKPaint { Color = new SKColor(225, 225, 225), StrokeWidth = 1 };
            for (int t = 0; t <= 10; t++)
                canvas.DrawLine(Scale(t / 10.0), y0, Scale(t / 10.0), y0 + Row * scores.Count, grid);
            for (int r = 0; r < scores.Count; r++)
            {
                float y = y0 + r * Row + Row / 2f;
                var ap = scores[r].BoxAP50;
                Text(canvas, scores[r].Name, 8, y + 5, 13);
                using var color = new SKPaint
                {
                    Color = GenerationColors[r % GenerationColors.Length],
                    StrokeWidth = 3,
                    IsAntialias = true,
                };
                if (double.IsFinite(ap.Low) && double.IsFinite(ap.High))
                {
                    canvas.DrawLine(Scale(ap.Low), y, Scale(ap.High), y, color);
                    canvas.DrawLine(Scale(ap.Low), y - 7, Scale(ap.Low), y + 7, color);
                    canvas.DrawLine(Scale(ap.High), y - 7, Scale(ap.High), y + 7, color);
                }
                if (double.IsFinite(ap.Estimate))
                    canvas.DrawCircle(Scale(ap.Estimate), y, 6, color);
                Text(canvas, $"{ap.Estimate:F3}  [{ap.Low:F3}, {ap.High:F3}]", x1 + 14, y + 5, 13);
            }
            float axisY = y0 + Row * scores.Count + 4;
            for (int t = 0; t <= 10; t += 2)
            {
                string label = $"{t / 10.0:0.0}";
                Text(canvas, label, Scale(t / 10.0) - TextWidth(label, 12) / 2, axisY + 16, 12);
            }
        }
        return Figure.FromBitmap(bmp, caption);
    }

    /// <summary>1, 2 or 5 times a power of ten, giving 4–10 ticks up to <paramref name="max"/>.</summary>
    static double TickStep(double max)
    {
        if (!(max > 0))
            return 1;
        double power = Math.Pow(10, Math.Floor(Math.Log10(max)));
        foreach (double m in new[] { 0.1, 0.2, 0.5, 1, 2, 5 })
            if (max / (m * power) <= 10)
                return m * power;
        return 10 * power;
    }

    static readonly SKTypeface Regular = SKTypeface.FromFamilyName("DejaVu Sans");
    static readonly SKTypeface Bold = SKTypeface.FromFamilyName("DejaVu Sans", SKFontStyle.Bold);

    /// <summary>Draws text with its baseline at y; returns its width.</summary>
    static float Text(SKCanvas canvas, string text, float x, float y, float size, bool bold = false)
    {
        using var font = new SKFont(bold ? Bold : Regular, size);
        using var paint = new SKPaint { Color = SKColors.Black, IsAntialias = true };
        canvas.DrawText(text, x, y, font, paint);
        return font.MeasureText(text);
    }

    static float TextWidth(string text, float size)
    {
        using var font = new SKFont(Regular, size);
        return font.MeasureText(text);
    }
}
