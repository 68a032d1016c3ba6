using System.Text.Json;

namespace MaskRcnn.Tuning;

/// <summary>
/// What a sweep ranks trials by: a validation metric that the training run writes into its metrics.jsonl at each
/// validation (higher is better). Always measured on the validation split, never the test split: a configuration
/// chosen by its test score has seen the test images, and its test score no longer estimates how it does on new ones.
/// The default, segm_ap50 (mask AP at IoU 0.5, COCO's algorithm), rewards finding and outlining lesions at any
/// confidence; sensitivity (lesions found at the clinical threshold, 0.9 in the walkthrough) rewards confident
/// detections; image_accuracy rewards the normal / benign / malignant call per image.
/// </summary>
public sealed record SelectionMetric(string Name, string Title)
{
    public static readonly IReadOnlyList<SelectionMetric> All =
    [
        new("segm_ap50", "val segm AP50"),
        new("segm_ap", "val segm AP"),
        new("bbox_ap50", "val bbox AP50"),
        new("bbox_ap", "val bbox AP"),
        new("sensitivity", "val sensitivity"),
        new("dice", "val Dice"),
        new("image_accuracy", "val image accuracy"),
    ];

    public static SelectionMetric Default => All[0];

    public static SelectionMetric Parse(string name) =>
        All.FirstOrDefault(m => m.Name == name.Trim().ToLowerInvariant())
        ?? throw new MaskRcnnException(
            $"unknown selection metric '{name}' (use {string.Join(", ", All.Select(m => m.Name))})"
        );

    /// <summary>This metric in a metrics.jsonl "val" row; null where undefined (absent, NaN, or COCO's −1).</summary>
    public double? Read(JsonElement row) =>
        Name switch
        {
            "segm_ap50" => Number(row, "segm", "AP50"),
            "segm_ap" => Number(row, "segm", "AP"),
            "bbox_ap50" => Number(row, "bbox", "AP50"),
            "bbox_ap" => Number(row, "bbox", "AP"),
            "sensitivity" => Number(row, "sensitivity"),
            "dice" => Number(row, "dice"),
            "image_accuracy" => Number(row, "image_classification_accuracy"),
            _ => null,
        };

    /// <summary>Every selection metric of a "val" row, by name.</summary>
    public static Dictionary<string, double?> ReadAll(JsonElement row) =>
        All.ToDictionary(m => m.Name, m => m.Read(row));

    /// <summary>A number at a path of a JSON row; null when absent, not a number, not finite or negative.</summary>
    public static double? Number(JsonElement row, params string[] path)
    {
        var e = row;
        foreach (var name in path)
            if (e.ValueKind != JsonValueKind.Object || !e.TryGetProperty(name, out e))
                return null;
        return e.ValueKind == JsonValueKind.Number && e.GetDouble() is double v && double.IsFinite(v) && v >= 0
            ? v
            : null;
    }
}
