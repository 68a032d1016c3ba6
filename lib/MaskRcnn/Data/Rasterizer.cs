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

    /// <summary>Sets the shape's pixels to 1 in an existing mask; returns how many pixels it covers.</summary>
    public static long Fill(ViaShape shape, int width, int height, byte[] mask)
    {
        if (!shape.HasArea)
            return 0;
        var (x1, y1, x2, y2) = shape.Bounds;
        int r0 = (int)Math.Max(0, Math.Floor(y1)),
            r1 = (int)Math.Min(height - 1, Math.Ceiling(y2));
        int c0 = (int)Math.Max(0, Math.Floor(x1)),
            c1 = (int)Math.Min(width - 1, Math.Ceiling(x2));
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
