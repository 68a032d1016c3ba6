using System.Text.Json;
using System.Text.Json.Nodes;
using MaskRcnn.Data.Coco;
using MaskRcnn.Data.Via;

namespace MaskRcnn.Evaluation;

/// <summary>Ground truth and results read from COCO files produced anywhere (pycocotools' loadRes
/// conventions).</summary>
public static class CocoFiles
{
    public sealed record GroundTruth(
        List<GtObject> Objects,
        List<long> ImageIds,
        List<int> CategoryIds,
        List<string> CategoryNames,
        Dictionary<string, long> IdsByFileName
    );

    /// <summary>
    /// A COCO instances file: polygons are rasterised as pycocotools does (rleFrPoly), RLE read as is; the
    /// annotation's "area" and "iscrowd" are used. Categories are renumbered 1..K in id order for the report.
    /// </summary>
    public static GroundTruth ReadGroundTruth(string path)
    {
        var root = Parse(path);
        if (
            root["images"] is not JsonArray imgs
            || root["annotations"] is not JsonArray anns
            || root["categories"] is not JsonArray cats
        )
            throw new MaskRcnnException(
                $"{path}: not a COCO instances file (needs \"images\", \"annotations\" and \"categories\")"
            );
        var catList = cats.OfType<JsonObject>()
            .Select(c => ((long)(ViaReader.Number(c["id"]) ?? -1), c["name"]?.ToString() ?? "?"))
            .OrderBy(c => c.Item1)
            .ToList();
        var catIndex = catList.Select((c, i) => (c.Item1, i + 1)).ToDictionary(p => p.Item1, p => p.Item2);
        var sizes = new Dictionary<long, (int H, int W)>();
        var byName = new Dictionary<string, long>();
        foreach (var img in imgs.OfType<JsonObject>())
        {
            long id = (long)(
                ViaReader.Number(img["id"]) ?? throw new MaskRcnnException($"{path}: an image without an id")
            );
            sizes[id] = ((int)(ViaReader.Number(img["height"]) ?? 0), (int)(ViaReader.Number(img["width"]) ?? 0));
            if (img["file_name"]?.ToString() is string fn)
                byName[Path.GetFileName(fn)] = id;
        }
        var objects = new List<GtObject>();
        foreach (var a in anns.OfType<JsonObject>())
        {
            long imageId = (long)(ViaReader.Number(a["image_id"]) ?? -1);
            long cat = (long)(ViaReader.Number(a["category_id"]) ?? -1);
            if (!sizes.TryGetValue(imageId, out var size) || !catIndex.TryGetValue(cat, out var k))
                continue;
            var bbox = (a["bbox"] as JsonArray)?.Select(v => ViaReader.Number(v) ?? 0).ToArray() ?? [0, 0, 0, 0];
            var mask = Segmentation(a["segmentation"], size.H, size.W);
            double area = ViaReader.Number(a["area"]) ?? mask?.Area ?? bbox[2] * bbox[3];
            objects.Add(new GtObject(imageId, k, bbox, mask, area, (ViaReader.Number(a["iscrowd"]) ?? 0) != 0));
        }
        return new GroundTruth(
            objects,
            sizes.Keys.Order().ToList(),
            Enumerable.Range(1, catList.Count).ToList(),
            catList.Select(c => c.Item2).ToList(),
            byName
        );
    }

    /// <summary>A results list; image_id may be a number or a file name (as `maskrcnn predict` writes).</summary>
    public static List<DtObject> ReadResults(string path, GroundTruth gt, Dictionary<long, int>? categoryMap = null)
    {
        var results = CocoResults.Read(path);
        var catIndex = categoryMap ?? gt.CategoryIds.ToDictionary(k => (long)k, k => k);
        var objects = new List<DtObject>();
        foreach (var r in results)
        {
            long imageId =
                r.ImageId.ValueKind == JsonValueKind.Number ? r.ImageId.GetInt64()
                : gt.IdsByFileName.TryGetValue(Path.GetFileName(r.ImageId.GetString() ?? ""), out var id) ? id
                : throw new MaskRcnnException($"{path}: result for unknown image '{r.ImageId}'");
            if (!catIndex.TryGetValue(r.CategoryId, out var k))
                continue;
            objects.Add(new DtObject(imageId, k, r.Bbox, r.Score, r.Segmentation?.ToMask()));
        }
        return objects;
    }

    static RleMask? Segmentation(JsonNode? seg, int h, int w)
    {
        switch (seg)
        {
            case JsonArray polys when polys.Count > 0 && h > 0 && w > 0:
                return RleOps.Union(
                    polys
                        .OfType<JsonArray>()
                        .Select(p => RleOps.FromPolygon(p.Select(v => ViaReader.Number(v) ?? 0).ToArray(), h, w))
                        .ToList()
                );
            case JsonObject rle:
                var size = (rle["size"] as JsonArray)?.Select(v => (int)(ViaReader.Number(v) ?? 0)).ToArray() ?? [h, w];
                long[] counts = rle["counts"] is JsonArray a
                    ? a.Select(v => (long)(ViaReader.Number(v) ?? 0)).ToArray()
                    : Rle.FromCompressedString(rle["counts"]?.ToString() ?? "");
                return new RleMask(size[0], size[1], counts);
            default:
                return null;
        }
    }

    static JsonObject Parse(string path)
    {
        if (!File.Exists(path))
            throw new MaskRcnnException($"file not found: {path}");
        try
        {
            return JsonNode.Parse(File.ReadAllText(path)) as JsonObject
                ?? throw new MaskRcnnException($"{path}: top level is not an object");
        }
        catch (JsonException e)
        {
            throw new MaskRcnnException($"{path}: not valid JSON ({e.Message})", e);
        }
    }
}
