using MaskRcnn.Data.Via;

namespace MaskRcnn.Data;

/// <summary>
/// Turns area shapes into instance masks at image resolution with one fill rule: pixel (row r, column c)
/// belongs to the shape when the point (x = c, y = r) — the pixel's centre in VIA's coordinates — lies
/// inside the shape or on its boundary. For polygons this is exactly skimage.draw.polygon (which matterport
/// used); rectangles are polygons; circles and ellipses use the same inside-or-on test analytically.
/// A rect at integer x, y with width w and height h therefore covers (w + 1) × (h + 1) pixels.
/// </summary>
public static class Rasterizer
{
    /// <summary>Row-major [height × width] mask, 1 inside. Empty for shapes without area.</summary>
    public static byte[] Rasterize(ViaShape shape, int width, int height)
    {
        var mask = new byte[(long)width * height];
        Fill(shape, width, height, mask);
        return mask;
    }

    /// <summary>
    /// Sets the shape's pixels to 1 in an existing mask; returns how many pixels it covers. A shape beyond
    /// <see cref="InputBudget.MaxRasterWork"/> is a <see cref="MaskRcnnException"/> (<see cref="WorkProblem"/> says so
    /// beforehand).
    /// </summary>
    public static long Fill(ViaShape shape, int width, int height, byte[] mask)
    {
        if (!shape.HasArea)
            return 0;
        if (WorkProblem(shape, width, height) is string problem)
            throw new MaskRcnnException(problem);
        var (r0, r1, c0, c1) = Window(shape, width, height);
        if (shape is PolygonShape polygon)
            return FillPolygon(polygon, r0, r1, c0, c1, width, mask);
        long count = 0;
        for (int r = r0; r <= r1; r++)
        for (int c = c0; c <= c1; c++)
            if (shape.Contains(c, r))
            {
                mask[(long)r * width + c] = 1;
                count++;
            }
        return count;
    }

    /// <summary>The rows and columns of the image the shape's bounds cover (empty when r1 &lt; r0 or c1 &lt; c0).</summary>
    static (int R0, int R1, int C0, int C1) Window(ViaShape shape, int width, int height)
    {
        var (x1, y1, x2, y2) = shape.Bounds;
        return (
            (int)Math.Clamp(Math.Floor(y1), 0, height),
            (int)Math.Clamp(Math.Ceiling(y2), -1, height - 1),
            (int)Math.Clamp(Math.Floor(x1), 0, width),
            (int)Math.Clamp(Math.Ceiling(x2), -1, width - 1)
        );
    }

    const double Eps = 1e-12; // Geometry.PointInPolygon's tolerance

    /// <summary>
    /// Why rasterising <paramref name="shape"/> on a <paramref name="width"/> × <paramref name="height"/> image would
    /// exceed <see cref="InputBudget.MaxRasterWork"/>, or null. A polygon costs, per row, one test per edge crossing
    /// that row for each pixel of the row; other shapes one test per pixel of their bounds.
    /// </summary>
    public static string? WorkProblem(ViaShape shape, int width, int height)
    {
        if (!shape.HasArea)
            return null;
        var (r0, r1, c0, c1) = Window(shape, width, height);
        if (r1 < r0 || c1 < c0)
            return null;
        long rowWidth = c1 - c0 + 1;
        long work = 0;
        if (shape is PolygonShape p)
        {
            for (int i = 0, j = p.Xs.Length - 1; i < p.Xs.Length; j = i++)
            {
                var (low, high) = EdgeRows(p.Ys[j], p.Ys[i], r0, r1);
                if (high >= low)
                    work += (high - low + 1) * rowWidth;
            }
        }
        else
            work = (r1 - r0 + 1) * rowWidth;
        return work > InputBudget.MaxRasterWork
            ? $"{shape.Name} too complex to rasterise ({work:N0} point tests exceed the budget of "
                + $"{InputBudget.MaxRasterWork:N0}: its edges cross its rows too often)"
            : null;
    }

    /// <summary>The rows r0 … r1 an edge between heights <paramref name="ya"/> and <paramref name="yb"/> can decide:
    /// those within its height range (widened by the vertex tolerance).</summary>
    static (long Low, long High) EdgeRows(double ya, double yb, int r0, int r1) =>
        (
            Math.Max(r0, (long)Math.Ceiling(Math.Min(ya, yb) - Eps)),
            Math.Min(r1, (long)Math.Floor(Math.Max(ya, yb) + Eps))
        );

    /// <summary>
    /// A polygon, row by row, with the same test as <see cref="Geometry.PointInPolygon"/> on the edges that reach each
    /// row only (an active-edge list): an edge above or below a row adds no crossing there and holds no vertex of it,
    /// so every pixel gets the same answer as the test over all edges, at the cost of the row's edges.
    /// </summary>
    static long FillPolygon(PolygonShape polygon, int r0, int r1, int c0, int c1, int width, byte[] mask)
    {
        double[] xs = polygon.Xs,
            ys = polygon.Ys;
        int n = xs.Length;
        if (n == 0 || r1 < r0 || c1 < c0)
            return 0;
        // Edge k runs from vertex k to the vertex before it (PointInPolygon's order); sorted by their first row.
        var edges = new List<(long Low, long High, int K)>(n);
        for (int k = 0; k < n; k++)
        {
            var (low, high) = EdgeRows(ys[k], ys[k == 0 ? n - 1 : k - 1], r0, r1);
            if (high >= low)
                edges.Add((low, high, k));
        }
        edges.Sort((a, b) => a.Low.CompareTo(b.Low));
        var active = new List<(long High, int K)>();
        int next = 0;
        long count = 0;
        for (int r = r0; r <= r1; r++)
        {
            active.RemoveAll(e => e.High < r);
            while (next < edges.Count && edges[next].Low <= r)
            {
                active.Add((edges[next].High, edges[next].K));
                next++;
            }
            if (active.Count == 0)
                continue;
            for (int c = c0; c <= c1; c++)
            {
                if (!Inside(c, r))
                    continue;
                mask[(long)r * width + c] = 1;
                count++;
            }
        }
        return count;

        bool Inside(double x, double y)
        {
            int rCross = 0,
                lCross = 0;
            foreach (var (_, k) in active)
            {
                int previous = k == 0 ? n - 1 : k - 1;
                double x0 = xs[k] - x,
                    y0 = ys[k] - y,
                    x1 = xs[previous] - x,
                    y1 = ys[previous] - y;
                if (x0 > -Eps && x0 < Eps && y0 > -Eps && y0 < Eps)
                    return true; // vertex
                if ((y0 > 0) != (y1 > 0) && (x0 * y1 - x1 * y0) / (y1 - y0) > 0)
                    rCross++;
                if ((y0 < 0) != (y1 < 0) && (x0 * y1 - x1 * y0) / (y1 - y0) < 0)
                    lCross++;
            }
            if ((rCross & 1) != (lCross & 1))
                return true; // edge
            return (rCross & 1) == 1;
        }
    }

    /// <summary>Tight pixel box (x1, y1, x2, y2) of a mask with x2, y2 exclusive (matterport's extract_bboxes), or null
    /// when empty.</summary>
    public static (int X1, int Y1, int X2, int Y2)? BoundingBox(byte[] mask, int width, int height)
    {
        int minX = width,
            minY = height,
            maxX = -1,
            maxY = -1;
        for (int r = 0; r < height; r++)
        {
            long row = (long)r * width;
            for (int c = 0; c < width; c++)
            {
                if (mask[row + c] == 0)
                    continue;
                if (c < minX)
                    minX = c;
                if (c > maxX)
                    maxX = c;
                if (r < minY)
                    minY = r;
                maxY = r;
            }
        }
        return maxX < 0 ? null : (minX, minY, maxX + 1, maxY + 1);
    }
}
