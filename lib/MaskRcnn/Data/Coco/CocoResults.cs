using System.Text.Json;
using System.Text.Json.Serialization;

namespace MaskRcnn.Data.Coco;

/// <summary>COCO's compressed-RLE segmentation object.</summary>
public sealed record CocoRle(
    [property: JsonPropertyName("size")] int[] Size,
    [property: JsonPropertyName("counts")] string Counts
)
{
    public static CocoRle From(RleMask rle) => new([rle.Height, rle.Width], Rle.ToCompressedString(rle.Counts));

    public RleMask ToMask() => new(Size[0], Size[1], Rle.FromCompressedString(Counts));
}

/// <summary>One entry of a COCO detection-results file (loadRes format).</summary>
public sealed record CocoDetectionResult(
    [property: JsonPropertyName("image_id")] JsonElement ImageId,
    [property: JsonPropertyName("category_id")] int CategoryId,
    [property: JsonPropertyName("bbox")] double[] Bbox,
    [property: JsonPropertyName("score")] double Score,
    [property: JsonPropertyName("segmentation")] CocoRle? Segmentation
);

/// <summary>Reads and writes COCO detection-results JSON (a list of <see cref="CocoDetectionResult"/>).</summary>
public static class CocoResults
{
    static readonly JsonSerializerOptions Options = new()
    {
        WriteIndented = false,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    public static JsonElement Id(string name) => JsonSerializer.SerializeToElement(name);

    public static JsonElement Id(long id) => JsonSerializer.SerializeToElement(id);

    public static void Write(string path, IEnumerable<CocoDetectionResult> results)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        string tmp = path + ".tmp";
        File.WriteAllText(tmp, JsonSerializer.Serialize(results.ToList(), Options));
        File.Move(tmp, path, overwrite: true);
    }

    public static List<CocoDetectionResult> Read(string path)
    {
        if (!File.Exists(path))
            throw new MaskRcnnException($"COCO results file not found: {path}");
        try
        {
            return JsonSerializer.Deserialize<List<CocoDetectionResult>>(File.ReadAllText(path), Options)
                ?? throw new MaskRcnnException($"{path}: empty COCO results file");
        }
        catch (JsonException e)
        {
            throw new MaskRcnnException($"{path}: not a COCO results list ({e.Message})", e);
        }
    }
}
