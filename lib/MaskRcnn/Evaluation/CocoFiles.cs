using System.Text.Json;
using System.Text.Json.Nodes;
using MaskRcnn.Data;
using MaskRcnn.Data.Coco;
using MaskRcnn.Data.Via;

namespace MaskRcnn.Evaluation;

/// <summary>
/// Ground truth and results read from COCO files produced anywhere (pycocotools' loadRes conventions). What cannot be
/// scored — an annotation or result of an unknown image or category, a bbox of fewer than four numbers, a mask of
/// another size than its image, an image of width 0 — is left out and counted with its reason
/// (<see cref="GroundTruth.Problems"/>, <see cref="ResultsFile.Problems"/>), never dropped without a word.
/// </summary>
public static class CocoFiles
{
    /// <summary>
    /// Ground-truth annotations one image may have to be scored (COCO's images have at most a few hundred): every
    /// detection is compared with every annotation of its image.
    /// </summary>
    public const int MaxAnnotationsPerImage = 1000;

    /// <summary>Results one image may have: the highest-scoring this many are scored (pycocotools uses 100).</summary>
    public const int MaxResultsPerImage = 1000;

    /// <summary>Categories × images: the size of the evaluation's tables (COCO's val set: 80 × 5000).</summary>
    public const long MaxCategoryImagePairs = 10_000_000;

    public sealed record GroundTruth(
        List<GtObject> Objects,
        List<long> ImageIds,
        List<int> CategoryIds,
        List<string> CategoryNames,
        Dictionary<string, long> IdsByFileName
    )
    {
        /// <summary>Annotations the file lists (scored or not).</summary>
        public int AnnotationsListed { get; init; }

        /// <summary>Why each image or annotation left out was left out.</summary>
        public IReadOnlyList<ProblemEntry> Problems { get; init; } = [];

        /// <summary>Each scorable image's height and width.</summary>
        public IReadOnlyDictionary<long, (int H, int W)> Sizes { get; init; } = new Dictionary<long, (int, int)>();

        /// <summary>File names two images share: results naming them cannot be told apart.</summary>
        public IReadOnlySet<string> AmbiguousFileNames { get; init; } = new HashSet<string>();
    }

    /// <summary>A results file as scored: the results that can be, how many were listed, why the others were not.</summary>
    public sealed record ResultsFile(List<DtObject> Objects, int Listed, IReadOnlyList<ProblemEntry> Problems);

    /// <summary>
    /// A COCO instances file: polygons are rasterised as pycocotools does (rleFrPoly), RLE read as is; the
    /// annotation's "area" and "iscrowd" are used. Categories are renumbered 1..K in id order for the report.
    /// </summary>
    public static GroundTruth ReadGroundTruth(string path)
    {
        var root = Parse(path, "COCO ground-truth file");
        if (
            root["images"] is not JsonArray imgs
            || root["annotations"] is not JsonArray anns
            || root["categories"] is not JsonArray cats
        )
            throw new MaskRcnnException(
                $"{path}: not a COCO instances file (needs \"images\", \"annotations\" and \"categories\")"
            );
        var problems = new List<ProblemEntry>();
        var catList = new List<(long Id, string Name)>();
        foreach (var c in cats)
        {
            if (c is not JsonObject category || Id(category["id"]) is not long id)
                throw new MaskRcnnException($"{path}: a category without a whole-number \"id\"");
            if (catList.Any(x => x.Id == id))
                throw new MaskRcnnException($"{path}: category id {id} is listed twice");
            catList.Add((id, category["name"]?.ToString() ?? "?"));
        }
        catList.Sort((a, b) => a.Id.CompareTo(b.Id));
        var duplicateName = catList.GroupBy(c => c.Name).FirstOrDefault(g => g.Count() > 1);
        if (duplicateName is not null)
            throw new MaskRcnnException(
                $"{path}: the category name '{duplicateName.Key}' is given to ids "
                    + $"{string.Join(", ", duplicateName.Select(c => c.Id))}; names must differ"
            );
        var catIndex = catList.Select((c, i) => (c.Id, i + 1)).ToDictionary(p => p.Id, p => p.Item2);
        var sizes = new Dictionary<long, (int H, int W)>();
        var leftOut = new HashSet<long>(); // images left out with a problem of their own: their annotations say no more
        var byName = new Dictionary<string, long>();
        var ambiguous = new HashSet<string>();
        foreach (var node in imgs)
        {
            if (node is not JsonObject img || Id(img["id"]) is not long id)
                throw new MaskRcnnException($"{path}: an image without a whole-number \"id\"");
            if (sizes.ContainsKey(id))
                throw new MaskRcnnException($"{path}: image id {id} is listed twice");
            double? h = ViaReader.Number(img["height"]),
                w = ViaReader.Number(img["width"]);
            string name = img["file_name"]?.ToString() ?? $"image {id}";
            if (
                h is not (>= 1 and <= ImageIO.DefaultMaxPixels)
                || w is not (>= 1 and <= ImageIO.DefaultMaxPixels)
                || h.Value * w.Value > ImageIO.DefaultMaxPixels
            )
            {
                problems.Add(
                    new ProblemEntry(
                        name,
                        null,
                        $"image id {id}: width {w?.ToString() ?? "missing"}, height {h?.ToString() ?? "missing"} "
                            + "cannot be scored; the image, its annotations and results are left out"
                    )
                );
                leftOut.Add(id);
                continue;
            }
            sizes[id] = ((int)h.Value, (int)w.Value);
            if (img["file_name"]?.ToString() is string fn)
            {
                string key = Path.GetFileName(fn);
                if (!byName.TryAdd(key, id))
                    ambiguous.Add(key);
            }
        }
        if ((long)catList.Count * Math.Max(1, sizes.Count) > MaxCategoryImagePairs)
            throw new MaskRcnnException(
                $"{path}: {catList.Count:N0} categories × {sizes.Count:N0} images exceeds the budget of "
                    + $"{MaxCategoryImagePairs:N0} (the evaluation's tables); evaluate fewer images or categories"
            );
        var perImage = anns.OfType<JsonObject>()
            .Select(a => Id(a["image_id"]))
            .Where(id => id is not null)
            .GroupBy(id => id!.Value)
            .Where(g => g.Count() > MaxAnnotationsPerImage)
            .Select(g => (Id: g.Key, Count: g.Count()))
            .ToList();
        foreach (var (id, count) in perImage)
            if (sizes.Remove(id) && leftOut.Add(id))
                problems.Add(
                    new ProblemEntry(
                        $"image {id}",
                        null,
                        $"{count:N0} annotations exceed the budget of {MaxAnnotationsPerImage} per image; the image, "
                            + "its annotations and results are left out"
                    )
                );
        var objects = new List<GtObject>();
        int index = 0;
        foreach (var node in anns)
        {
            int at = index++;
            string where = $"annotation {at}";
            if (node is not JsonObject a)
            {
                problems.Add(new ProblemEntry(where, null, "not an object; left out"));
                continue;
            }
            long? imageId = Id(a["image_id"]);
            long? cat = Id(a["category_id"]);
            if (imageId is long gone && leftOut.Contains(gone))
                continue; // counted with its image
            if (imageId is not long image || !sizes.TryGetValue(image, out var size))
            {
                problems.Add(
                    new ProblemEntry(
                        where,
                        null,
                        $"image_id {a["image_id"]?.ToJsonString() ?? "missing"} "
                            + "is not a scorable image of the file; left out"
                    )
                );
                continue;
            }
            if (cat is not long category || !catIndex.TryGetValue(category, out var k))
            {
                problems.Add(
                    new ProblemEntry(
                        where,
                        null,
                        $"category_id {a["category_id"]?.ToJsonString() ?? "missing"} "
                            + "is not a category of the file; left out"
                    )
                );
                continue;
            }
            var (mask, maskProblem) = Segmentation(a["segmentation"], size.H, size.W);
            var bbox = Box(a["bbox"]) ?? (mask is not null ? RleOps.ToBbox(mask) : null);
            if (bbox is null)
            {
                problems.Add(
                    new ProblemEntry(where, null, "no bbox of four finite numbers and no segmentation; left out")
                );
                continue;
            }
            if (maskProblem is not null)
                problems.Add(new ProblemEntry(where, null, maskProblem + "; scored for bbox only (segm AP undefined)"));
            double area =
                ViaReader.Number(a["area"]) is double given && double.IsFinite(given) && given >= 0
                    ? given
                    : mask?.Area ?? bbox[2] * bbox[3];
            objects.Add(new GtObject(image, k, bbox, mask, area, (ViaReader.Number(a["iscrowd"]) ?? 0) != 0));
        }
        foreach (var name in ambiguous)
            problems.Add(
                new ProblemEntry(name, null, "file name of several images: results that name it cannot be scored")
            );
        return new GroundTruth(
            objects,
            sizes.Keys.Order().ToList(),
            Enumerable.Range(1, catList.Count).ToList(),
            catList.Select(c => c.Name).ToList(),
            byName
        )
        {
            AnnotationsListed = anns.Count,
            Sizes = sizes,
            Problems = Capped(problems),
            AmbiguousFileNames = ambiguous,
        };
    }

    /// <summary>
    /// A results list; image_id may be a number or a file name (as `maskrcnn predict` writes). Results that cannot be
    /// scored are left out: <see cref="ReadResultsFile"/> says which and why.
    /// </summary>
    public static List<DtObject> ReadResults(string path, GroundTruth gt, Dictionary<long, int>? categoryMap = null) =>
        ReadResultsFile(path, gt, categoryMap).Objects;

    /// <summary>
    /// A results list as scored. A result without "segmentation" is scored for masks with its box as its mask, as
    /// pycocotools' loadRes does (and counted); one of an unknown image or category, with a bbox of fewer than four
    /// finite numbers, a non-finite score or a mask of another size than its image is left out with the reason.
    /// </summary>
    public static ResultsFile ReadResultsFile(string path, GroundTruth gt, Dictionary<long, int>? categoryMap = null)
    {
        var results = CocoResults.Read(path);
        var catIndex = categoryMap ?? gt.CategoryIds.ToDictionary(k => (long)k, k => k);
        var images = gt.ImageIds.ToHashSet();
        var objects = new List<DtObject>();
        var problems = new List<ProblemEntry>();
        int boxMasks = 0;
        for (int i = 0; i < results.Count; i++)
        {
            var r = results[i];
            string where = $"result {i}";
            void LeftOut(string why) => problems.Add(new ProblemEntry(where, null, why + "; left out"));
            if (r is null)
            {
                LeftOut("null");
                continue;
            }
            long imageId;
            if (r.ImageId.ValueKind == JsonValueKind.Number && r.ImageId.TryGetInt64(out long number))
                imageId = number;
            else if (r.ImageId.ValueKind == JsonValueKind.String)
            {
                string name = Path.GetFileName(r.ImageId.GetString() ?? "");
                if (gt.AmbiguousFileNames.Contains(name))
                {
                    LeftOut($"image '{name}' names several images of the ground truth");
                    continue;
                }
                if (!gt.IdsByFileName.TryGetValue(name, out imageId))
                {
                    LeftOut($"image '{name}' is not an image of the ground truth");
                    continue;
                }
            }
            else
            {
                LeftOut($"image_id {r.ImageId.GetRawText()} is neither a whole number nor a file name");
                continue;
            }
            if (!images.Contains(imageId))
            {
                LeftOut($"image_id {imageId} is not a scorable image of the ground truth");
                continue;
            }
            if (!catIndex.TryGetValue(r.CategoryId, out var k))
            {
                LeftOut($"category_id {r.CategoryId} is not a category of the ground truth");
                continue;
            }
            if (r.Bbox is not { Length: 4 } || r.Bbox.Any(v => !double.IsFinite(v)) || r.Bbox[2] < 0 || r.Bbox[3] < 0)
            {
                LeftOut($"bbox [{string.Join(", ", r.Bbox ?? [])}] is not four finite numbers x, y, width, height");
                continue;
            }
            if (!double.IsFinite(r.Score))
            {
                LeftOut($"score {r.Score} is not a finite number");
                continue;
            }
            var (h, w) = gt.Sizes.TryGetValue(imageId, out var size) ? size : (0, 0);
            RleMask? mask;
            if (r.Segmentation is null)
            {
                mask = h > 0 ? BoxMask(r.Bbox, h, w) : null;
                boxMasks++;
            }
            else
            {
                string? problem = null;
                try
                {
                    mask = r.Segmentation is { Size: [_, _] } ? r.Segmentation.ToMask() : null;
                    if (mask is null)
                        problem = "segmentation has no [height, width] size";
                    else if (h > 0 && (mask.Height != h || mask.Width != w))
                        problem = $"segmentation is {mask.Width}×{mask.Height}, its image {w}×{h}";
                    else if (mask.Counts.Any(c => c < 0) || mask.Counts.Sum() != (long)mask.Height * mask.Width)
                        problem = "segmentation's run lengths do not cover its size";
                }
                catch (Exception e) when (e is InvalidDataException or FormatException or OverflowException)
                {
                    mask = null;
                    problem = $"segmentation is not a readable RLE ({e.Message})";
                }
                if (problem is not null)
                {
                    LeftOut(problem);
                    continue;
                }
            }
            objects.Add(new DtObject(imageId, k, r.Bbox, r.Score, mask));
        }
        // Per image, the highest-scoring results within the budget (a stable order: ties keep the file's order).
        var kept = objects
            .Select((o, i) => (o, i))
            .GroupBy(p => p.o.ImageId)
            .SelectMany(g => g.OrderByDescending(p => p.o.Score).ThenBy(p => p.i).Take(MaxResultsPerImage))
            .OrderBy(p => p.i)
            .Select(p => p.o)
            .ToList();
        if (kept.Count < objects.Count)
            problems.Add(
                new ProblemEntry(
                    path,
                    null,
                    $"{objects.Count - kept.Count:N0} results beyond the budget of {MaxResultsPerImage} per image "
                        + "(the lowest-scoring) left out"
                )
            );
        objects = kept;
        if (boxMasks > 0)
            problems.Add(
                new ProblemEntry(
                    path,
                    null,
                    $"{boxMasks} result{(boxMasks == 1 ? "" : "s")} without \"segmentation\": scored for masks with "
                        + "the box as the mask (pycocotools' loadRes)"
                )
            );
        return new ResultsFile(objects, results.Count, Capped(problems));
    }

    /// <summary>The first 1000 problems and, when there are more, one entry counting the rest.</summary>
    static IReadOnlyList<ProblemEntry> Capped(List<ProblemEntry> problems) =>
        problems.Count <= 1000
            ? problems
            : [.. problems.Take(1000), new ProblemEntry("…", null, $"{problems.Count - 1000:N0} more problems")];

    /// <summary>What could not be scored of both files, for the report.</summary>
    public static ScoringReport Scoring(GroundTruth gt, ResultsFile results) =>
        new(
            gt.AnnotationsListed,
            gt.Objects.Count,
            results.Listed,
            results.Objects.Count,
            gt.Problems.Concat(results.Problems).ToList()
        );

    /// <summary>The box as a mask, as pycocotools' loadRes makes one for a result without segmentation.</summary>
    static RleMask BoxMask(double[] b, int h, int w) =>
        RleOps.FromPolygon([b[0], b[1], b[0], b[1] + b[3], b[0] + b[2], b[1] + b[3], b[0] + b[2], b[1]], h, w);

    static long? Id(JsonNode? node) =>
        ViaReader.Number(node) is double d && double.IsFinite(d) && d == Math.Floor(d) && Math.Abs(d) < 1e15
            ? (long)d
            : null;

    static double[]? Box(JsonNode? node)
    {
        if (node is not JsonArray a || a.Count != 4)
            return null;
        var values = a.Select(ViaReader.Number).ToArray();
        return values.All(v => v is double d && double.IsFinite(d)) && values[2] >= 0 && values[3] >= 0
            ? values.Select(v => v!.Value).ToArray()
            : null;
    }

    /// <summary>An annotation's mask, or null with the reason (null, null when it has no segmentation).</summary>
    static (RleMask? Mask, string? Problem) Segmentation(JsonNode? seg, int h, int w)
    {
        switch (seg)
        {
            case null:
                return (null, "no segmentation");
            case JsonArray polys when polys.Count > 0:
            {
                var masks = new List<RleMask>();
                foreach (var node in polys)
                {
                    if (node is not JsonArray p || p.Count < 6 || p.Count % 2 != 0)
                        return (null, "a polygon of fewer than three points");
                    if (InputBudget.VertexProblem("polygon", p.Count / 2) is string many)
                        return (null, many);
                    var xy = p.Select(v => ViaReader.Number(v) ?? double.NaN).ToArray();
                    // Coordinates within the image's neighbourhood: pycocotools' walk along the edges grows with them.
                    double limit = 2.0 * Math.Max(h, w) + 16;
                    if (xy.Any(v => !double.IsFinite(v) || Math.Abs(v) > limit))
                        return (null, $"a polygon coordinate is not finite or lies beyond ±{limit:N0} px");
                    masks.Add(RleOps.FromPolygon(xy, h, w));
                }
                return (RleOps.Union(masks), null);
            }
            case JsonObject rle:
            {
                var size = (rle["size"] as JsonArray)?.Select(ViaReader.Number).ToArray();
                if (size is not [double sh, double sw] || sh != h || sw != w)
                    return (null, $"RLE size [{string.Join(", ", size ?? [])}] is not its image's [{h}, {w}]");
                try
                {
                    long[] counts = rle["counts"] is JsonArray a
                        ? a.Select(v => ViaReader.Number(v) is double c && c >= 0 && c == Math.Floor(c) ? (long)c : -1)
                            .ToArray()
                        : Rle.FromCompressedString(rle["counts"]?.ToString() ?? "");
                    if (counts.Any(c => c < 0) || counts.Sum() != (long)h * w)
                        return (null, "RLE counts do not cover the image");
                    return (new RleMask(h, w, counts), null);
                }
                catch (Exception e) when (e is InvalidDataException or FormatException or OverflowException)
                {
                    return (null, $"RLE counts are not readable ({e.Message})");
                }
            }
            default:
                return (null, "segmentation is neither polygons nor an RLE");
        }
    }

    static JsonObject Parse(string path, string what)
    {
        string text = IO.InputFile.ReadAllText(path, what, IO.InputFile.MaxJsonBytes);
        return IO.JsonInput.Parse(text, path) as JsonObject
            ?? throw new MaskRcnnException($"{path}: top level is not an object");
    }
}
