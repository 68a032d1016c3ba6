using MaskRcnn.Data.Coco;

namespace MaskRcnn.Evaluation;

/// <summary>Run-length mask arithmetic as pycocotools' maskApi does it (no decoding).</summary>
public static class RleOps
{
    /// <summary>Foreground pixels shared by two masks of the same size.</summary>
    public static long Intersection(RleMask a, RleMask b)
    {
        // Walk both run lists; runs alternate background/foreground starting with background.
        long ia = 0,
            ib = 0,
            remA = a.Counts.Length > 0 ? a.Counts[0] : 0,
            remB = b.Counts.Length > 0 ? b.Counts[0] : 0;
        int ka = 0,
            kb = 0;
        long total = 0;
        while (ka < a.Counts.Length && kb < b.Counts.Length)
        {
            long step = Math.Min(remA, remB);
            if ((ka & 1) == 1 && (kb & 1) == 1)
                total += step;
            remA -= step;
            remB -= step;
            if (remA == 0)
            {
                ka++;
                if (ka < a.Counts.Length)
                    remA = a.Counts[ka];
            }
            if (remB == 0)
            {
                kb++;
                if (kb < b.Counts.Length)
                    remB = b.Counts[kb];
            }
            ia += step;
            ib += step;
        }
        return total;
    }

    /// <summary>pycocotools' rleIou: intersection / union, or / detection area for crowd ground truth.</summary>
    public static double Iou(RleMask dt, RleMask gt, bool crowd)
    {
        long i = Intersection(dt, gt),
            da = dt.Area,
            ga = gt.Area;
        double u = crowd ? da : da + ga - i;
        return u > 0 ? i / u : 0;
    }

    /// <summary>pycocotools' bbIou on (x, y, w, h) boxes.</summary>
    public static double BoxIou(double[] dt, double[] gt, bool crowd)
    {
        double w = Math.Min(dt[0] + dt[2], gt[0] + gt[2]) - Math.Max(dt[0], gt[0]);
        if (w <= 0)
            return 0;
        double h = Math.Min(dt[1] + dt[3], gt[1] + gt[3]) - Math.Max(dt[1], gt[1]);
        if (h <= 0)
            return 0;
        double i = w * h,
            da = dt[2] * dt[3],
            ga = gt[2] * gt[3];
        double u = crowd ? da : da + ga - i;
        return i / u;
    }

    /// <summary>
    /// A polygon rasterised as pycocotools' rleFrPoly does (used for COCO ground truth given as polygons):
    /// vertices scaled ×5 and rounded, edges walked densely, and the column crossings turned into runs.
    /// </summary>
    public static RleMask FromPolygon(double[] xy, int h, int w)
    {
        const double scale = 5;
        int k = xy.Length / 2;
        var x = new int[k + 1];
        var y = new int[k + 1];
        for (int j = 0; j < k; j++)
        {
            x[j] = (int)(scale * xy[j * 2] + .5);
            y[j] = (int)(scale * xy[j * 2 + 1] + .5);
        }
        x[k] = x[0];
        y[k] = y[0];
        var u = new List<int>();
        var v = new List<int>();
        for (int j = 0; j < k; j++)
        {
            int xs = x[j],
                xe = x[j + 1],
                ys = y[j],
                ye = y[j + 1];
            int dx = Math.Abs(xe - xs),
                dy = Math.Abs(ys - ye);
            bool flip = (dx >= dy && xs > xe) || (dx < dy && ys > ye);
            if (flip)
            {
                (xs, xe) = (xe, xs);
                (ys, ye) = (ye, ys);
            }
            double s = dx >= dy ? (double)(ye - ys) / dx : (double)(xe - xs) / dy;
            if (dx >= dy)
                for (int d = 0; d <= dx; d++)
                {
                    int t = flip ? dx - d : d;
                    u.Add(t + xs);
                    v.Add((int)(ys + s * t + .5));
                }
            else
                for (int d = 0; d <= dy; d++)
                {
                    int t = flip ? dy - d : d;
                    v.Add(t + ys);
                    u.Add((int)(xs + s * t + .5));
                }
        }
        var bx = new List<long>();
        for (int j = 1; j < u.Count; j++)
        {
            if (u[j] == u[j - 1])
                continue;
            double xd = u[j] < u[j - 1] ? u[j] : u[j] - 1;
            xd = (xd + .5) / scale - .5;
            if (Math.Floor(xd) != xd || xd < 0 || xd > w - 1)
                continue;
            double yd = v[j] < v[j - 1] ? v[j] : v[j - 1];
            yd = (yd + .5) / scale - .5;
            yd =
                yd < 0 ? 0
                : yd > h ? h
                : yd;
            yd = Math.Ceiling(yd);
            bx.Add((long)xd * h + (long)yd);
        }
        bx.Add((long)h * w);
        bx.Sort();
        long p = 0;
        for (int j = 0; j < bx.Count; j++)
        {
            long t = bx[j];
            bx[j] -= p;
            p = t;
        }
        var counts = new List<long> { bx[0] };
        for (int j = 1; j < bx.Count; )
        {
            if (bx[j] > 0)
                counts.Add(bx[j++]);
            else
            {
                j++;
                if (j < bx.Count)
                    counts[^1] += bx[j++];
            }
        }
        return new RleMask(h, w, counts.ToArray());
    }

    /// <summary>Union of several masks of the same size.</summary>
    public static RleMask Union(IReadOnlyList<RleMask> masks)
    {
        if (masks.Count == 1)
            return masks[0];
        int h = masks[0].Height,
            w = masks[0].Width;
        var bits = new bool[(long)h * w];
        foreach (var m in masks)
        {
            long pos = 0;
            for (int i = 0; i < m.Counts.Length; i++)
            {
                if (i % 2 == 1)
                    Array.Fill(bits, true, (int)pos, (int)m.Counts[i]);
                pos += m.Counts[i];
            }
        }
        var counts = new List<long>();
        bool cur = false;
        long run = 0;
        foreach (var b in bits)
        {
            if (b == cur)
            {
                run++;
                continue;
            }
            counts.Add(run);
            cur = b;
            run = 1;
        }
        counts.Add(run);
        return new RleMask(h, w, counts.ToArray());
    }

    /// <summary>pycocotools' toBbox: (x, y, w, h) of the mask's pixels, or zeros when empty.</summary>
    public static double[] ToBbox(RleMask m)
    {
        long h = m.Height;
        long xs = m.Width,
            ys = m.Height,
            xe = 0,
            ye = 0,
            cc = 0;
        int n = m.Counts.Length / 2 * 2;
        if (n == 0)
            return [0, 0, 0, 0];
        long xp = 0;
        for (int j = 0; j < n; j++)
        {
            cc += m.Counts[j];
            long t = cc - j % 2,
                yy = t % h,
                xx = (t - yy) / h;
            if (j % 2 == 0)
                xp = xx;
            else if (xp < xx)
            {
                ys = 0;
                ye = h - 1;
            }
            xs = Math.Min(xs, xx);
            xe = Math.Max(xe, xx);
            ys = Math.Min(ys, yy);
            ye = Math.Max(ye, yy);
        }
        return [xs, ys, xe - xs + 1, ye - ys + 1];
    }
}
