using MaskRcnn.Visualization;
using SkiaSharp;

namespace MaskRcnn.Teaching;

/// <summary>
/// RoIPool and RoIAlign drawn on the same box over a feature grid (after Mask R-CNN's Fig. 3). Left, RoIPool: the box
/// rounded to whole cells, then each bin's edges rounded again (bins may overlap or differ in size); each bin is the
/// maximum over its cells. Right, RoIAlign: the box and its bins where they are, a few sampling points per bin, each
/// sample interpolated bilinearly from the four cell centres around it (one sample's four weights written out); each
/// bin is the mean of its samples.
/// </summary>
public static class RoiAlignDiagram
{
    const int Cell = 54,
        Columns = 7,
        Rows = 6,
        PanelWidth = 450,
        Left = 30,
        Top = 46;

    /// <summary>A box in feature-grid units (cell (i, j) covers [i, i+1) × [j, j+1)).</summary>
    public readonly record struct GridBox(double X1, double Y1, double X2, double Y2);

    /// <summary>The default box: corners off the grid, so that rounding shows.</summary>
    public static GridBox Example => new(1.35, 1.2, 5.8, 4.9);

    /// <param name="bins">bins per side (Mask R-CNN's figure: 2 × 2)</param>
    /// <param name="samples">sampling points per bin and side (2: four per bin, as the figure and torchvision's
    /// sampling_ratio=2)</param>
    public static Figure Draw(GridBox? box = null, int bins = 2, int samples = 2, string caption = "")
    {
        var b = box ?? Example;
        using var bmp = new SKBitmap(2 * PanelWidth, Top + Rows * Cell + 86);
        using (var canvas = new SKCanvas(bmp))
        {
            canvas.Clear(SKColors.White);
            DrawPool(canvas, b, bins);
            canvas.Translate(PanelWidth, 0);
            DrawAlign(canvas, b, bins, samples);
        }
        return Figure.FromBitmap(bmp, caption);
    }

    static float X(double gridX) => Left + (float)(gridX * Cell);

    static float Y(double gridY) => Top + (float)(gridY * Cell);

    static void DrawPool(SKCanvas canvas, GridBox b, int bins)
    {
        Text(canvas, "RoIPool: rounded twice", Left, 24, 15, bold: true);
        Grid(canvas);
        // torchvision's roi_pool: corners rounded, the box one cell wider, bin edges ⌊p·T⌋ … ⌈(p+1)·T⌉.
        int x1 = (int)Math.Round(b.X1, MidpointRounding.AwayFromZero),
            y1 = (int)Math.Round(b.Y1, MidpointRounding.AwayFromZero);
        int x2 = (int)Math.Round(b.X2, MidpointRounding.AwayFromZero),
            y2 = (int)Math.Round(b.Y2, MidpointRounding.AwayFromZero);
        double tw = Math.Max(x2 - x1 + 1, 1) / (double)bins,
            th = Math.Max(y2 - y1 + 1, 1) / (double)bins;
        SKColor[] colors = [new(214, 39, 40), new(31, 119, 180), new(44, 160, 44), new(148, 103, 189)];
        for (int py = 0; py < bins; py++)
        for (int px = 0; px < bins; px++)
        {
            double bx1 = x1 + Math.Floor(px * tw),
                bx2 = x1 + Math.Ceiling((px + 1) * tw);
            double by1 = y1 + Math.Floor(py * th),
                by2 = y1 + Math.Ceiling((py + 1) * th);
            var color = colors[(py * bins + px) % colors.Length];
            float inset = 3 + 3 * (py * bins + px);
            using var fill = new SKPaint { Color = color.WithAlpha(40) };
            using var edge = Stroke(color, 2.5f);
            var rect = new SKRect(X(bx1) + inset, Y(by1) + inset, X(bx2) - inset, Y(by2) - inset);
            canvas.DrawRect(rect, fill);
            canvas.DrawRect(rect, edge);
        }
        using var exact = Stroke(new SKColor(60, 60, 60), 2, dashed: true);
        canvas.DrawRect(new SKRect(X(b.X1), Y(b.Y1), X(b.X2), Y(b.Y2)), exact);
        float y = Y(Rows) + 24;
        Text(canvas, "dashed: the box; coloured: its bins, on whole cells", Left, y, 13);
        Text(canvas, "(the box is rounded, then each bin's edges again:", Left, y + 20, 13);
        Text(canvas, "bins overlap or differ in size); bin = max of its cells", Left, y + 40, 13);
    }

    static void DrawAlign(SKCanvas canvas, GridBox b, int bins, int samples)
    {
        Text(canvas, "RoIAlign: no rounding", Left, 24, 15, bold: true);
        Grid(canvas);
        using var boxPaint = Stroke(new SKColor(60, 60, 60), 2.5f);
        canvas.DrawRect(new SKRect(X(b.X1), Y(b.Y1), X(b.X2), Y(b.Y2)), boxPaint);
        double bw = (b.X2 - b.X1) / bins,
            bh = (b.Y2 - b.Y1) / bins;
        using var binPaint = Stroke(new SKColor(60, 60, 60), 1.5f, dashed: true);
        for (int k = 1; k < bins; k++)
        {
            canvas.DrawLine(X(b.X1 + k * bw), Y(b.Y1), X(b.X1 + k * bw), Y(b.Y2), binPaint);
            canvas.DrawLine(X(b.X1), Y(b.Y1 + k * bh), X(b.X2), Y(b.Y1 + k * bh), binPaint);
        }
        using var dot = new SKPaint { Color = new SKColor(214, 39, 40), IsAntialias = true };
        for (int py = 0; py < bins * samples; py++)
        for (int px = 0; px < bins * samples; px++)
            canvas.DrawCircle(X(b.X1 + (px + 0.5) * bw / samples), Y(b.Y1 + (py + 0.5) * bh / samples), 5, dot);
        Bilinear(canvas, b.X1 + 0.5 * bw / samples, b.Y1 + 0.5 * bh / samples);
        float y = Y(Rows) + 24;
        Text(canvas, "solid: the box; dashed: its bins; red: sampling points", Left, y, 13);
        Text(canvas, "one sample = Σ weight × value of the 4 cell centres", Left, y + 20, 13);
        Text(canvas, "around it (weights shown); bin = mean of its samples", Left, y + 40, 13);
    }

    /// <summary>Lines from the sample (sx, sy) to its four neighbouring cell centres, with the bilinear
    /// weights.</summary>
    static void Bilinear(SKCanvas canvas, double sx, double sy)
    {
        int i0 = (int)Math.Floor(sx - 0.5),
            j0 = (int)Math.Floor(sy - 0.5);
        double lx = sx - (i0 + 0.5),
            ly = sy - (j0 + 0.5);
        using var line = Stroke(new SKColor(31, 119, 180), 1.5f);
        using var centre = new SKPaint { Color = new SKColor(31, 119, 180), IsAntialias = true };
        for (int dj = 0; dj <= 1; dj++)
        for (int di = 0; di <= 1; di++)
        {
            double weight = (di == 0 ? 1 - lx : lx) * (dj == 0 ? 1 - ly : ly);
            float cx = X(i0 + di + 0.5),
                cy = Y(j0 + dj + 0.5);
            canvas.DrawLine(X(sx), Y(sy), cx, cy, line);
            canvas.DrawCircle(cx, cy, 4.5f, centre);
            string label = weight.ToString("0.000", System.Globalization.CultureInfo.InvariantCulture);
            float width = TextWidth(label, 13);
            float tx = di == 0 ? cx - width - 6 : cx + 6,
                ty = dj == 0 ? cy - 7 : cy + 17;
            using var halo = new SKPaint { Color = SKColors.White.WithAlpha(220) };
            canvas.DrawRect(new SKRect(tx - 2, ty - 13, tx + width + 2, ty + 3), halo);
            Text(canvas, label, tx, ty, 13, color: new SKColor(31, 119, 180));
        }
    }

    static void Grid(SKCanvas canvas)
    {
        using var lines = Stroke(new SKColor(200, 200, 200), 1);
        using var centres = new SKPaint { Color = new SKColor(190, 190, 190), IsAntialias = true };
        for (int i = 0; i <= Columns; i++)
            canvas.DrawLine(X(i), Y(0), X(i), Y(Rows), lines);
        for (int j = 0; j <= Rows; j++)
            canvas.DrawLine(X(0), Y(j), X(Columns), Y(j), lines);
        for (int i = 0; i < Columns; i++)
        for (int j = 0; j < Rows; j++)
            canvas.DrawCircle(X(i + 0.5), Y(j + 0.5), 2, centres);
    }

    static SKPaint Stroke(SKColor color, float width, bool dashed = false) =>
        new()
        {
            Color = color,
            StrokeWidth = width,
            IsStroke = true,
            IsAntialias = true,
            PathEffect = dashed ? SKPathEffect.CreateDash([6, 4], 0) : null,
        };

    static float TextWidth(string text, float size)
    {
        using var font = new SKFont(Regular, size);
        return font.MeasureText(text);
    }

    static readonly SKTypeface Regular = SKTypeface.FromFamilyName("DejaVu Sans");
    static readonly SKTypeface Bold = SKTypeface.FromFamilyName("DejaVu Sans", SKFontStyle.Bold);

    static void Text(
        SKCanvas canvas,
        string text,
        float x,
        float y,
        float size,
        bool bold = false,
        SKColor? color = null
    )
    {
        using var font = new SKFont(bold ? Bold : Regular, size);
        using var paint = new SKPaint { Color = color ?? SKColors.Black, IsAntialias = true };
        canvas.DrawText(text, x, y, font, paint);
    }
}
