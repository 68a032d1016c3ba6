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

    /// <summary>Writes the results atomically (<see cref="IO.AtomicFile"/>).</summary>
    public static void Write(string path, IEnumerable<CocoDetectionResult> results) =>
        IO.AtomicFile.WriteAllText(path, JsonSerializer.Serialize(results.ToList(), Options));

    static readonly JsonSerializerOptions ReadOptions = new(Options) { AllowDuplicateProperties = false };

    /// <summary>
    /// Reads a results list (a regular file within <see cref="IO.InputFile.MaxJsonBytes"/>); malformed JSON, a key
    /// given twice or a field of the wrong type is one error naming the file. Rows are not checked here
    /// (<c>CocoFiles.ReadResultsFile</c> scores what it can and says why it left each other row out).
    /// </summary>
    public static List<CocoDetectionResult> Read(string path)
    {
        string text = IO.InputFile.ReadAllText(path, "COCO results file", IO.InputFile.MaxJsonBytes);
        try
        {
            return JsonSerializer.Deserialize<List<CocoDetectionResult>>(text, ReadOptions)
                ?? throw new MaskRcnnException($"{path}: empty COCO results file (null)");
        }
        catch (JsonException e)
        {
            throw IO.JsonInput.DuplicateKey(text, path, e)
                ?? new MaskRcnnException($"{path}: not a COCO results list ({e.Message})", e);
        }
    }
}
