using MaskRcnn.Data;
using MaskRcnn.Visualization;

namespace MaskRcnn.Teaching;

/// <summary>One annotated lesion's size: its mask's tight box and area, in the image's pixels.</summary>
public sealed record LesionShape(
    [property: Column("image")] string ImageFile,
    [property: Column("class")] string ClassName,
    [property: Column("width (px)", "F0")] double Width,
    [property: Column("height (px)", "F0")] double Height,
    [property: Column("area (px²)", "N0")] double Area
)
{
    /// <summary>Height over width: above 1 the lesion is taller than wide (BI-RADS' "not parallel").</summary>
    public double Ratio => Height / Width;
}

/// <summary>A split's contents for notebook 02: counts per class and every lesion's size.</summary>
public static class LesionStats
{
    /// <summary>Every lesion of the split, rasterised as training sees it.</summary>
    public static IReadOnlyList<LesionShape> Of(Dataset data)
    {
        var shapes = new List<LesionShape>();
        foreach (var image in data.Images)
        foreach (var lesion in image.Instances)
        {
            var mask = lesion.Rasterize(image.Width, image.Height);
            if (Rasterizer.BoundingBox(mask, image.Width, image.Height) is not { } box)
                continue; // an outline that covers no pixel centre: training skips it too
            double area = mask.Count(v => v != 0);
            shapes.Add(new LesionShape(image.FileName, lesion.ClassName, box.X2 - box.X1, box.Y2 - box.Y1, area));
        }
        return shapes;
    }

    /// <summary>Per class: lesions and images whose most severe class it is (normal: images without lesions).</summary>
    public static Table Counts(Dataset data)
    {
        var rows = data
            .Classes.Prepend("normal")
            .Select(c =>
                (
                    Class: c,
                    Lesions: data.Images.Sum(i => i.Instances.Count(x => x.ClassName == c)),
                    Images: data.Images.Count(i => i.ImageClass(data.Classes) == c)
                )
            );
        return Table.Of(rows, ("class", r => r.Class), ("lesions", r => r.Lesions), ("images", r => r.Images));
    }

    /// <summary>"smallest …, median …, largest … px²; N of M under 32 × 32 = 1,024 px² (COCO's small)".</summary>
    public static string AreaSummary(IReadOnlyList<LesionShape> shapes)
    {
        if (shapes.Count == 0)
            return "no lesions";
        var areas = shapes.Select(s => s.Area).Order().ToList();
        int small = areas.Count(a => a < SmallArea);
        return $"lesion area: smallest {areas[0]:N0} px², median {areas[areas.Count / 2]:N0} px², largest "
            + $"{areas[^1]:N0} px²; {small} of {areas.Count} under 32 × 32 = 1,024 px² (COCO's 'small')";
    }

    /// <summary>COCO's "small" objects: under 32 × 32 pixels of area.</summary>
    public const double SmallArea = 32 * 32;
}
