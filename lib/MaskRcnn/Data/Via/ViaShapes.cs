namespace MaskRcnn.Data.Via;

/// <summary>
/// A region shape as VIA stores it, in image pixel coordinates (x right, y down; the centre of pixel
/// (row r, column c) is the point (c, r), as in skimage and matterport). Area shapes rasterise to masks;
/// points, lines and polylines have no area.
/// </summary>
public abstract record ViaShape
{
    /// <summary>The shape's name as written in the file (VIA 2 names; VIA 3 shapes get the same names).</summary>
    public abstract string Name { get; }

    /// <summary>True for polygon, rect, circle, ellipse and the VIA 3 extreme shapes.</summary>
    public abstract bool HasArea { get; }

    /// <summary>Axis-aligned bounds (x1, y1, x2, y2).</summary>
    public abstract (double X1, double Y1, double X2, double Y2) Bounds { get; }

    /// <summary>An outline as a polygon (curved shapes approximated by <paramref name="segments"/> vertices).</summary>
    public abstract (double[] Xs, double[] Ys) Outline(int segments = 64);

    /// <summary>True when the point (x, y) is inside the shape or on its boundary.</summary>
    public virtual bool Contains(double x, double y) => false;

    /// <summary>The same shape with every coordinate mapped by (x, y) → (sx·x + tx, sy·y + ty); sx, sy &gt;
    /// 0.</summary>
    public abstract ViaShape Transform(double sx, double tx, double sy, double ty);
}

public sealed record PolygonShape(double[] Xs, double[] Ys) : ViaShape
{
    public override string Name => "polygon";
    public override bool HasArea => true;
    public override (double X1, double Y1, double X2, double Y2) Bounds => (Xs.Min(), Ys.Min(), Xs.Max(), Ys.Max());

    public override (double[] Xs, double[] Ys) Outline(int segments = 64) => (Xs, Ys);

    public override bool Contains(double x, double y) => Geometry.PointInPolygon(Xs, Ys, x, y);

    public override ViaShape Transform(double sx, double tx, double sy, double ty) =>
        new PolygonShape(Xs.Select(v => sx * v + tx).ToArray(), Ys.Select(v => sy * v + ty).ToArray());
}

public sealed record RectShape(double X, double Y, double Width, double Height) : ViaShape
{
    public override string Name => "rect";
    public override bool HasArea => true;
    public override (double X1, double Y1, double X2, double Y2) Bounds => (X, Y, X + Width, Y + Height);

    public override (double[] Xs, double[] Ys) Outline(int segments = 64) =>
        ([X, X + Width, X + Width, X], [Y, Y, Y + Height, Y + Height]);

    public override bool Contains(double x, double y) => x >= X && x <= X + Width && y >= Y && y <= Y + Height;

    public override ViaShape Transform(double sx, double tx, double sy, double ty) =>
        new RectShape(sx * X + tx, sy * Y + ty, sx * Width, sy * Height);
}

public sealed record CircleShape(double Cx, double Cy, double R) : ViaShape
{
    public override string Name => "circle";
    public override bool HasArea => true;
    public override (double X1, double Y1, double X2, double Y2) Bounds => (Cx - R, Cy - R, Cx + R, Cy + R);

    public override (double[] Xs, double[] Ys) Outline(int segments = 64) =>
        new EllipseShape(Cx, Cy, R, R, 0).Outline(segments);

    public override bool Contains(double x, double y) => (x - Cx) * (x - Cx) + (y - Cy) * (y - Cy) <= R * R;

    public override ViaShape Transform(double sx, double tx, double sy, double ty) =>
        sx == sy
            ? new CircleShape(sx * Cx + tx, sy * Cy + ty, sx * R)
            : new EllipseShape(sx * Cx + tx, sy * Cy + ty, sx * R, sy * R, 0);
}

/// <summary>Ellipse with semi-axes Rx, Ry rotated by Theta radians (VIA 2's optional "theta"; canvas convention,
/// clockwise on screen).</summary>
public sealed record EllipseShape(double Cx, double Cy, double Rx, double Ry, double Theta) : ViaShape
{
    public override string Name => "ellipse";
    public override bool HasArea => true;
    public override (double X1, double Y1, double X2, double Y2) Bounds
    {
        get
        {
            double c = Math.Cos(Theta),
                s = Math.Sin(Theta);
            double hx = Math.Sqrt(Rx * Rx * c * c + Ry * Ry * s * s),
                hy = Math.Sqrt(Rx * Rx * s * s + Ry * Ry * c * c);
            return (Cx - hx, Cy - hy, Cx + hx, Cy + hy);
        }
    }

    public override (double[] Xs, double[] Ys) Outline(int segments = 64)
    {
        double c = Math.Cos(Theta),
            s = Math.Sin(Theta);
        var xs = new double[segments];
        var ys = new double[segments];
        for (int i = 0; i < segments; i++)
        {
            double t = 2 * Math.PI * i / segments,
                u = Rx * Math.Cos(t),
                v = Ry * Math.Sin(t);
            xs[i] = Cx + u * c - v * s;
            ys[i] = Cy + u * s + v * c;
        }
        return (xs, ys);
    }

    public override bool Contains(double x, double y)
    {
        if (Rx <= 0 || Ry <= 0)
            return false;
        double dx = x - Cx,
            dy = y - Cy,
            c = Math.Cos(Theta),
            s = Math.Sin(Theta);
        double u = dx * c + dy * s,
            v = -dx * s + dy * c;
        return (u / Rx) * (u / Rx) + (v / Ry) * (v / Ry) <= 1;
    }

    public override ViaShape Transform(double sx, double tx, double sy, double ty) =>
        sx == sy || Theta == 0
            ? new EllipseShape(sx * Cx + tx, sy * Cy + ty, sx * Rx, sy * Ry, Theta)
            : new PolygonShape(
                Outline(128).Xs.Select(v => sx * v + tx).ToArray(),
                Outline(128).Ys.Select(v => sy * v + ty).ToArray()
            );
}

/// <summary>An open chain of points (no area).</summary>
public sealed record PolylineShape(double[] Xs, double[] Ys) : ViaShape
{
    public override string Name => "polyline";
    public override bool HasArea => false;
    public override (double X1, double Y1, double X2, double Y2) Bounds => (Xs.Min(), Ys.Min(), Xs.Max(), Ys.Max());

    public override (double[] Xs, double[] Ys) Outline(int segments = 64) => (Xs, Ys);

    public override ViaShape Transform(double sx, double tx, double sy, double ty) =>
        new PolylineShape(Xs.Select(v => sx * v + tx).ToArray(), Ys.Select(v => sy * v + ty).ToArray());
}

/// <summary>A straight segment (VIA 3; no area).</summary>
public sealed record LineShape(double X1, double Y1, double X2, double Y2) : ViaShape
{
    public override string Name => "line";
    public override bool HasArea => false;
    public override (double X1, double Y1, double X2, double Y2) Bounds =>
        (Math.Min(X1, X2), Math.Min(Y1, Y2), Math.Max(X1, X2), Math.Max(Y1, Y2));

    public override (double[] Xs, double[] Ys) Outline(int segments = 64) => ([X1, X2], [Y1, Y2]);

    public override ViaShape Transform(double sx, double tx, double sy, double ty) =>
        new LineShape(sx * X1 + tx, sy * Y1 + ty, sx * X2 + tx, sy * Y2 + ty);
}

/// <summary>A single point (no area).</summary>
public sealed record PointShape(double Cx, double Cy) : ViaShape
{
    public override string Name => "point";
    public override bool HasArea => false;
    public override (double X1, double Y1, double X2, double Y2) Bounds => (Cx, Cy, Cx, Cy);

    public override (double[] Xs, double[] Ys) Outline(int segments = 64) => ([Cx], [Cy]);

    public override ViaShape Transform(double sx, double tx, double sy, double ty) =>
        new PointShape(sx * Cx + tx, sy * Cy + ty);
}

/// <summary>Geometry shared by the shapes and the rasteriser.</summary>
public static class Geometry
{
    /// <summary>
    /// skimage's point_in_polygon (O'Rourke's ray crossing with left/right counts): true inside, on an edge
    /// or at a vertex (tolerance 1e-12) — the rule skimage.draw.polygon, and so matterport, fills with.
    /// </summary>
    public static bool PointInPolygon(double[] xp, double[] yp, double x, double y)
    {
        const double eps = 1e-12;
        int n = xp.Length;
        if (n == 0)
            return false;
        int rCross = 0,
            lCross = 0;
        double x1 = xp[n - 1] - x,
            y1 = yp[n - 1] - y;
        for (int i = 0; i < n; i++)
        {
            double x0 = xp[i] - x,
                y0 = yp[i] - y;
            if (x0 > -eps && x0 < eps && y0 > -eps && y0 < eps)
                return true; // vertex
            if ((y0 > 0) != (y1 > 0) && (x0 * y1 - x1 * y0) / (y1 - y0) > 0)
                rCross++;
            if ((y0 < 0) != (y1 < 0) && (x0 * y1 - x1 * y0) / (y1 - y0) < 0)
                lCross++;
            x1 = x0;
            y1 = y0;
        }
        if ((rCross & 1) != (lCross & 1))
            return true; // edge
        return (rCross & 1) == 1;
    }

    /// <summary>Shoelace area of a polygon.</summary>
    public static double PolygonArea(double[] xs, double[] ys)
    {
        double a = 0;
        for (int i = 0, j = xs.Length - 1; i < xs.Length; j = i++)
            a += (xs[j] + xs[i]) * (ys[j] - ys[i]);
        return Math.Abs(a) / 2;
    }

    /// <summary>The circle through three points, or null when they are collinear.</summary>
    public static (double Cx, double Cy, double R)? CircleThrough(
        (double X, double Y) a,
        (double X, double Y) b,
        (double X, double Y) c
    )
    {
        double d = 2 * (a.X * (b.Y - c.Y) + b.X * (c.Y - a.Y) + c.X * (a.Y - b.Y));
        if (Math.Abs(d) < 1e-12)
            return null;
        double a2 = a.X * a.X + a.Y * a.Y,
            b2 = b.X * b.X + b.Y * b.Y,
            c2 = c.X * c.X + c.Y * c.Y;
        double cx = (a2 * (b.Y - c.Y) + b2 * (c.Y - a.Y) + c2 * (a.Y - b.Y)) / d;
        double cy = (a2 * (c.X - b.X) + b2 * (a.X - c.X) + c2 * (b.X - a.X)) / d;
        return (cx, cy, Math.Sqrt((a.X - cx) * (a.X - cx) + (a.Y - cy) * (a.Y - cy)));
    }
}
