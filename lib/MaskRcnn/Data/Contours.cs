namespace MaskRcnn.Data;

/// <summary>Connected components of binary masks and their outlines as polygons.</summary>
public static class Contours
{
    /// <summary>4-connected components of the non-zero pixels: a label image (0 = background, 1..K) and each
    /// component's pixel count.</summary>
    public static (int[] Labels, List<int> Sizes) Components(byte[] mask, int width, int height)
    {
        var labels = new int[mask.Length];
        var sizes = new List<int>();
        var stack = new Stack<int>();
        for (int start = 0; start < mask.Length; start++)
        {
            if (mask[start] == 0 || labels[start] != 0)
                continue;
            int id = sizes.Count + 1,
                count = 0;
            labels[start] = id;
            stack.Push(start);
            while (stack.Count > 0)
            {
                int p = stack.Pop();
                count++;
                int r = p / width,
                    c = p % width;
                if (c > 0)
                    Visit(p - 1);
                if (c < width - 1)
                    Visit(p + 1);
                if (r > 0)
                    Visit(p - width);
                if (r < height - 1)
                    Visit(p + width);
            }
            sizes.Add(count);

            void Visit(int q)
            {
                if (mask[q] != 0 && labels[q] == 0)
                {
                    labels[q] = id;
                    stack.Push(q);
                }
            }
        }
        return (labels, sizes);
    }

    /// <summary>
    /// The outer boundary of one 4-connected component as a polygon along the pixels' edges (vertices at pixel
    /// corners, i.e. half-integer coordinates; collinear points removed). Rasterised with the centre rule it
    /// gives back the component exactly (holes filled).
    /// </summary>
    public static (double[] Xs, double[] Ys) TraceOuterBoundary(int[] labels, int width, int height, int id)
    {
        int startIndex = Array.IndexOf(labels, id);
        if (startIndex < 0)
            throw new ArgumentException($"no component {id}");
        bool Inside(int row, int col) =>
            row >= 0 && col >= 0 && row < height && col < width && labels[row * width + col] == id;

        // Corner (cx, cy) is the top-left corner of pixel (row cy, col cx), at point (cx − 0.5, cy − 0.5).
        // Walk clockwise (inside on the right) starting along the top edge of the first pixel in raster order.
        // The start corner touches only one pixel of the component, so the boundary passes it exactly once.
        int sx = startIndex % width,
            sy = startIndex / width;
        int x = sx,
            y = sy,
            d = 0;
        var xs = new List<double> { sx - 0.5 };
        var ys = new List<double> { sy - 0.5 };
        int[] dx = [1, 0, -1, 0],
            dy = [0, 1, 0, -1];
        int guard = 4 * (width + 2) * (height + 2);
        while (true)
        {
            x += dx[d];
            y += dy[d];
            if (x == sx && y == sy)
                break;
            if (--guard < 0)
                throw new InvalidOperationException("contour tracing did not close");
            // Front-right and front-left pixels of this corner for the current heading; inside stays on the right,
            // and diagonal neighbours do not connect (4-connectivity).
            (int fr, int fc, int lr, int lc) = d switch
            {
                0 => (y, x, y - 1, x),
                1 => (y, x - 1, y, x),
                2 => (y - 1, x - 1, y, x - 1),
                _ => (y - 1, x, y - 1, x - 1),
            };
            int nd =
                !Inside(fr, fc) ? (d + 1) % 4
                : Inside(lr, lc) ? (d + 3) % 4
                : d;
            if (nd != d)
            {
                xs.Add(x - 0.5);
                ys.Add(y - 0.5);
            }
            d = nd;
        }
        return (xs.ToArray(), ys.ToArray());
    }
}
