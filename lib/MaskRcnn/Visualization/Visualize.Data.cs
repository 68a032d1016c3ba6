using MaskRcnn.Data;
using MaskRcnn.Teaching;
using TorchSharp;
using static TorchSharp.torch;

namespace MaskRcnn.Visualization;

/// <summary>
/// One call per figure, for the notebooks (matterport's <c>visualize</c>): each method draws one idea from the
/// library's data, model or run and returns the picture or chart; the plumbing (loading, colours, legends,
/// captions) lives here so that a notebook cell reads as the step it shows.
/// </summary>
public static partial class Visualize
{
    /// <summary>
    /// matterport's display_instances over several images: ground-truth masks, boxes and classes. Images too wide for
    /// <paramref name="columns"/> panels on a page are shrunk before drawing, so the labels keep their size.
    /// </summary>
    public static Figure Samples(Dataset data, IEnumerable<int> indices, int columns = 3, string caption = "")
    {
        var panels = new List<Figure>();
        int widest = Draw.MaxWidth / Math.Max(1, columns) - 6;
        foreach (int i in indices)
        {
            using var scope = NewDisposeScope();
            using var s = data.Load(i);
            string name = Path.GetFileNameWithoutExtension(s.Source.FileName);
            string label = $"{name} ({s.Source.Width}×{s.Source.Height}, {s.Source.ImageClass(data.Classes)})";
            var (image, boxes, masks) = Shrunk(s, widest);
            panels.Add(Draw.GroundTruth(image, boxes, s.Labels, masks, ClassNames(data), caption: label));
        }
        return Draw.WithLegend(Draw.Grid(panels, columns, caption), Draw.ClassLegend(ClassNames(data)));
    }

    /// <summary>The first <paramref name="perClass"/> images of each image class (normal, then the lesion
    /// classes), in the dataset's order.</summary>
    public static IReadOnlyList<int> ImagesByClass(Dataset data, int perClass, bool normal = false) =>
        (normal ? data.Classes.Prepend("normal") : data.Classes)
            .SelectMany(c =>
                Enumerable.Range(0, data.Count).Where(i => data.Images[i].ImageClass(data.Classes) == c).Take(perClass)
            )
            .ToList();

    /// <summary>A sample's image, boxes and masks scaled down so the image is at most <paramref name="width"/> px
    /// wide (unchanged when it already is).</summary>
    static (Tensor Image, Tensor Boxes, Tensor Masks) Shrunk(Sample s, int width)
    {
        long w = s.Image.shape[2];
        if (w <= width)
            return (s.Image, s.Boxes, s.Masks);
        double f = (double)width / w;
        var size = new long[] { (long)Math.Round(s.Image.shape[1] * f), width };
        var image = nn.functional.interpolate(s.Image.unsqueeze(0), size, mode: InterpolationMode.Area)[0];
        var masks =
            s.Masks.shape[0] == 0
                ? zeros(new long[] { 0, size[0], size[1] }, dtype: ScalarType.Byte)
                : nn
                    .functional.interpolate(s.Masks.unsqueeze(0).to(float32), size, mode: InterpolationMode.Nearest)[0]
                    .to(ScalarType.Byte);
        return (image, s.Boxes * (float)f, masks);
    }

    /// <summary>
    /// matterport's display_top_masks for several images: one row per image — the image, then the union of each
    /// class's masks in white (a normal image: an empty panel).
    /// </summary>
    public static Figure TopMasks(Dataset data, IEnumerable<int> indices, int cell = 150)
    {
        var panels = new List<Figure>();
        int perRow = data.Classes.Count + 1;
        foreach (int i in indices)
        {
            using var scope = NewDisposeScope();
            using var s = data.Load(i);
            var image = Fit(s.Image, cell);
            panels.Add(Draw.Image(image, Path.GetFileNameWithoutExtension(s.Source.FileName)));
            var labels = s.Labels.ToLongArray();
            for (int c = 1; c <= data.Classes.Count; c++)
            {
                var mine = Enumerable.Range(0, labels.Length).Where(k => labels[k] == c).Select(k => (long)k).ToArray();
                var union = mine.Length == 0 ? zeros_like(s.Image[0]) : s.Masks[tensor(mine)].ne(0).any(0).to(float32);
                long pixels = (long)union.sum().item<float>();
                panels.Add(Draw.Image(Fit(union, cell), $"{data.Classes[c - 1]}: {pixels:N0} px"));
            }
        }
        return Draw.Grid(panels, perRow, "each class's masks (white) — one row per image");
    }

    /// <summary>A split's lesions by height / width, one colour per class, stacked (never blended).</summary>
    public static ChartHtml AspectRatios(IReadOnlyList<LesionShape> shapes) =>
        Charts.Render(
            ChartSpec.Histogram(
                "Lesion height / width by class",
                "height / width of the lesion's box",
                "lesions",
                ByClass(shapes, s => s.Ratio)
            ) with
            {
                Stacked = true,
                XMarks = [new ChartMark(1, "as tall as wide")],
            }
        );

    /// <summary>A split's lesions by mask area, per class (stacked), with COCO's 32 × 32 "small" limit
    /// marked.</summary>
    public static ChartHtml Areas(IReadOnlyList<LesionShape> shapes) =>
        Charts.Render(
            ChartSpec.Histogram(
                "Lesion area by class",
                "mask area (pixels)",
                "lesions",
                ByClass(shapes, s => s.Area)
            ) with
            {
                Stacked = true,
                XMarks = [new ChartMark(LesionStats.SmallArea, "1,024 px² (COCO small)")],
            }
        );

    /// <summary>One training image under several random augmentations.</summary>
    public static Figure Augmentations(Dataset data, int index, int variants, int columns = 3)
    {
        var augmenter = new Augmenter();
        var panels = new List<Figure>();
        for (int seed = 0; seed < variants; seed++)
        {
            using var s = data.Load(index, augmenter, seed);
            var caption = $"augmentation seed {seed}";
            panels.Add(Draw.GroundTruth(s.Image, s.Boxes, s.Labels, s.Masks, ClassNames(data), caption: caption));
        }
        return Draw.WithLegend(Draw.Grid(panels, columns), Draw.ClassLegend(ClassNames(data)));
    }

    static ChartSeries[] ByClass(IReadOnlyList<LesionShape> shapes, Func<LesionShape, double> value) =>
        shapes
            .Select(s => s.ClassName)
            .Distinct()
            .Order()
            .Select(c => new ChartSeries(
                c,
                X: shapes.Where(s => s.ClassName == c).Select(value).ToArray(),
                Color: Hex(c)
            ))
            .ToArray();

    /// <summary>The class colour of the pictures, for charts (benign green, malignant red).</summary>
    static string? Hex(string className) =>
        className switch
        {
            "benign" => "#3cdc5a",
            "malignant" => "#f03c3c",
            _ => null,
        };

    /// <summary>Background first, as the model numbers classes.</summary>
    static IReadOnlyList<string> ClassNames(Dataset data) => [.. data.Classes.Prepend("__background__")];

    /// <summary>The image shrunk (never enlarged) so that its longer side is at most <paramref name="side"/>.</summary>
    static Tensor Fit(Tensor image, int side)
    {
        bool gray = image.dim() == 2;
        var t = gray ? image.unsqueeze(0) : image;
        long longer = Math.Max(t.shape[1], t.shape[2]);
        if (longer <= side)
            return image;
        double f = (double)side / longer;
        var size = new long[] { (long)Math.Round(t.shape[1] * f), (long)Math.Round(t.shape[2] * f) };
        var small = nn.functional.interpolate(t.unsqueeze(0).to(float32), size, mode: InterpolationMode.Area)[0];
        return gray ? small[0] : small;
    }
}
