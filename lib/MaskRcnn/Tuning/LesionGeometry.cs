using MaskRcnn.Config;
using MaskRcnn.Data;
using MaskRcnn.Modeling;

namespace MaskRcnn.Tuning;

/// <summary>
/// One lesion as the model sees it: its box after the configured resize (pixels of the resized image, x2/y2
/// exclusive as training's boxes), its size √(w·h) — the measure anchor sizes use — and its aspect ratio h / w
/// (torchvision's convention for aspect_ratios), with the padded size of its image.
/// </summary>
public sealed record LesionBox(
    string Image,
    double X1,
    double Y1,
    double X2,
    double Y2,
    long PaddedHeight,
    long PaddedWidth
)
{
    public double Width => X2 - X1;
    public double Height => Y2 - Y1;
    public double Size => Math.Sqrt(Width * Height);
    public double AspectRatio => Height / Width;
}

/// <summary>The lesions of a dataset after a configuration's resize (the evaluation size, min_size's last value).</summary>
public static class LesionGeometry
{
    /// <summary>
    /// Every lesion's box (from its mask, as training computes it) scaled as the transform resizes its image, and the
    /// image's size once padded to size_divisible.
    /// </summary>
    public static List<LesionBox> Of(Dataset data, MaskRcnnConfig config)
    {
        var transform = config.ToTransform();
        var boxes = new List<LesionBox>();
        foreach (var image in data.Images)
        {
            var (h, w) = transform.ResizedSize(image.Height, image.Width);
            long padH = RoundUp(h, config.SizeDivisible),
                padW = RoundUp(w, config.SizeDivisible);
            // torchvision's resize_boxes: each coordinate times new / old size of its axis, in float32.
            float sx = (float)w / image.Width,
                sy = (float)h / image.Height;
            foreach (var instance in image.Instances)
                if (MaskBox(instance.Rasterize(image.Width, image.Height), image.Width) is var (x1, y1, x2, y2))
                    boxes.Add(new LesionBox(image.FileName, x1 * sx, y1 * sy, x2 * sx, y2 * sy, padH, padW));
        }
        return boxes;
    }

    static long RoundUp(long value, int multiple) => (value + multiple - 1) / multiple * multiple;

    /// <summary>The mask's extent (x2, y2 exclusive), or null for an empty mask.</summary>
    static (int, int, int, int)? MaskBox(byte[] mask, int width)
    {
        int x1 = int.MaxValue,
            y1 = int.MaxValue,
            x2 = -1,
            y2 = -1;
        for (int i = 0; i < mask.Length; i++)
        {
            if (mask[i] == 0)
                continue;
            int x = i % width,
                y = i / width;
            (x1, y1, x2, y2) = (Math.Min(x1, x), Math.Min(y1, y), Math.Max(x2, x), Math.Max(y2, y));
        }
        return x2 < 0 ? null : (x1, y1, x2 + 1, y2 + 1);
    }

    /// <summary>The <paramref name="q"/>-quantile (0–1) of <paramref name="values"/>, linearly interpolated.</summary>
    public static double Quantile(IReadOnlyList<double> values, double q)
    {
        if (values.Count == 0)
            return double.NaN;
        var sorted = values.Order().ToArray();
        double position = q * (sorted.Length - 1);
        int lo = (int)Math.Floor(position),
            hi = (int)Math.Ceiling(position);
        return sorted[lo] + (sorted[hi] - sorted[lo]) * (position - lo);
    }
}
