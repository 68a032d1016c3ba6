using System.Text.Json.Nodes;

namespace MaskRcnn.Data.Via;

/// <summary>Which VIA file this is (detected from content, not the file name).</summary>
public enum ViaFlavour
{
    /// <summary>VIA 1.x "Save as JSON": images keyed filename+size, regions an object {"0": …}.</summary>
    Export1,

    /// <summary>VIA 2.x "Export annotations (as json)": regions a list.</summary>
    Export2,

    /// <summary>VIA 2.x "Save project": _via_settings, _via_img_metadata, _via_attributes.</summary>
    Project2,

    /// <summary>VIA 3.x project: project, config, attribute, file, view, metadata.</summary>
    Project3,
}

public static class ViaFlavourNames
{
    /// <summary>"1.x-export", "2.x-export", "2.x-project", "3.x-project".</summary>
    public static string ToName(this ViaFlavour f) =>
        f switch
        {
            ViaFlavour.Export1 => "1.x-export",
            ViaFlavour.Export2 => "2.x-export",
            ViaFlavour.Project2 => "2.x-project",
            _ => "3.x-project",
        };
}

/// <summary>Something wrong with one image or region that did not stop the file from loading.</summary>
/// <param name="Image">the image's file name (or key)</param>
/// <param name="Region">the region's index within the image, or null for image-level problems</param>
/// <param name="Message">what is wrong, and what was done about it</param>
public sealed record ViaProblem(string Image, int? Region, string Message)
{
    public override string ToString() => Region is int r ? $"{Image} region {r}: {Message}" : $"{Image}: {Message}";
}

/// <summary>One annotated region.</summary>
/// <param name="Index">position within its image (0-based, file order)</param>
/// <param name="ShapeName">the shape's name as the file gives it (counted even when the shape is invalid)</param>
/// <param name="Shape">the parsed shape, or null when it was invalid (a problem says why)</param>
/// <param name="Attributes">region attributes with VIA 3 option ids already resolved to option names</param>
public sealed record ViaRegion(int Index, string ShapeName, ViaShape? Shape, JsonObject Attributes);

/// <summary>One image entry.</summary>
/// <param name="Key">the entry's key in the file (VIA 1/2: often filename + size; VIA 3: file id)</param>
/// <param name="FileName">the file name (or relative path) the entry refers to</param>
/// <param name="FileSize">the byte size VIA recorded (−1 or null when unknown)</param>
public sealed record ViaImage(
    string Key,
    string FileName,
    long? FileSize,
    IReadOnlyList<ViaRegion> Regions,
    JsonObject FileAttributes
);

/// <summary>A parsed VIA file: images, their regions, attribute definitions and every problem met.</summary>
public sealed record ViaDocument(
    ViaFlavour Flavour,
    string Source,
    IReadOnlyList<ViaImage> Images,
    IReadOnlyList<ViaProblem> Problems,
    JsonObject? RegionAttributeDefinitions
)
{
    public int RegionCount => Images.Sum(i => i.Regions.Count);
}

/// <summary>A file that is not VIA at all, or is broken beyond per-region problems; the message names the
/// file.</summary>
public sealed class ViaFormatException(string message, Exception? inner = null) : MaskRcnnException(message, inner);
