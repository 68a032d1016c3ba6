using System.Text.Json.Serialization;
using MaskRcnn.Data.Via;

namespace MaskRcnn.Data;

/// <summary>What <c>maskrcnn inspect-data</c> reports: counts of what the file contains (before any filtering) and
/// every problem.</summary>
public sealed record ViaSummary(
    [property: JsonPropertyName("format")] string Format,
    [property: JsonPropertyName("images")] int Images,
    [property: JsonPropertyName("images_with_regions")] int ImagesWithRegions,
    [property: JsonPropertyName("regions")] int Regions,
    [property: JsonPropertyName("shapes")] SortedDictionary<string, int> Shapes,
    [property: JsonPropertyName("classes")] SortedDictionary<string, int> Classes,
    [property: JsonPropertyName("label_key")] string? LabelKey,
    [property: JsonPropertyName("problems")] IReadOnlyList<ProblemEntry> Problems
)
{
    /// <summary>Images that would be left out: unreadable, missing, outside the images folder (--images).</summary>
    [JsonPropertyName("images_skipped")]
    public int ImagesSkipped { get; init; }

    /// <summary>
    /// Regions that would be left out: invalid shapes, no area, unknown or missing labels, those of entries listed
    /// twice and of skipped images.
    /// </summary>
    [JsonPropertyName("regions_skipped")]
    public int RegionsSkipped { get; init; }
}

public sealed record ProblemEntry(
    [property: JsonPropertyName("image")] string Image,
    [property: JsonPropertyName("region")] int? Region,
    [property: JsonPropertyName("message")] string Message
);

public static class ViaInspection
{
    /// <summary>Label used in <see cref="ViaSummary.Classes"/> for regions without one.</summary>
    public const string Unlabelled = "(unlabelled)";

    /// <summary>
    /// Counts images (each file once, however many entries name it), annotated images, regions, shapes (by the
    /// file's shape names) and labels (normalised values of the label attribute), and gathers problems: the
    /// reader's, label problems, shapes without area, file names listed twice, and — when
    /// <paramref name="imagesDir"/> is given — missing, unreadable (every image is decoded in full) and out-of-folder
    /// images and out-of-image shapes; and how many images and regions would be left out.
    /// </summary>
    public static ViaSummary Summarize(ViaDocument doc, string? imagesDir = null, LabelOptions? labels = null)
    {
        labels ??= LabelOptions.Default;
        string? key = LabelResolver.DetectLabelKey(doc, labels);
        var regions = doc.Images.SelectMany(i => i.Regions).ToList();
        var shapes = new SortedDictionary<string, int>(StringComparer.Ordinal);
        foreach (var r in regions)
            shapes[r.ShapeName] = shapes.GetValueOrDefault(r.ShapeName) + 1;
        var classes = new SortedDictionary<string, int>(StringComparer.Ordinal);
        foreach (var r in regions)
        {
            var values = key is null ? [] : LabelResolver.Values(r.Attributes, key);
            string name = values.Count == 0 ? Unlabelled : string.Join("+", values.Select(LabelResolver.Normalize));
            classes[name] = classes.GetValueOrDefault(name) + 1;
        }

        List<ViaProblem> problems;
        int images,
            imagesSkipped,
            regionsSkipped;
        if (imagesDir is not null)
        {
            var options = labels with
            {
                Unlabeled = labels.Unlabeled == UnlabeledPolicy.Error ? UnlabeledPolicy.Skip : labels.Unlabeled,
            };
            var report = DatasetLoader.FromDocument(doc, imagesDir, options, decode: true).Report();
            problems = report.Problems.Select(p => new ViaProblem(p.Image, p.Region, p.Message)).ToList();
            (images, imagesSkipped, regionsSkipped) = (
                report.ImagesListed,
                report.ImagesSkipped,
                report.RegionsSkipped
            );
        }
        else
        {
            problems = doc.Problems.ToList();
            var known = LabelResolver.KnownNames(labels);
            var firstKey = new Dictionary<string, string>(StringComparer.Ordinal);
            int used = 0;
            foreach (var image in doc.Images)
            {
                if (firstKey.TryGetValue(image.FileName, out var first))
                {
                    problems.Add(new ViaProblem(image.FileName, null, DatasetLoader.ListedAgain(image, first)));
                    continue;
                }
                firstKey[image.FileName] = image.Key;
                if (InputBudget.RegionCountProblem(image.Regions.Count) is string tooMany)
                {
                    problems.Add(new ViaProblem(image.FileName, null, tooMany));
                    continue;
                }
                foreach (var r in image.Regions.Where(r => r.Shape is not null))
                {
                    if (!r.Shape!.HasArea)
                    {
                        problems.Add(new ViaProblem(image.FileName, r.Index, $"{r.ShapeName} has no area; skipped"));
                        continue;
                    }
                    var (id, problem) = LabelResolver.Resolve(r, key, labels, known);
                    if (id is null)
                        problems.Add(new ViaProblem(image.FileName, r.Index, problem + "; region skipped"));
                    else
                        used++;
                }
            }
            (images, imagesSkipped, regionsSkipped) = (firstKey.Count, 0, regions.Count - used);
        }
        var listedOnce = doc.Images.DistinctBy(i => i.FileName).ToList();
        return new ViaSummary(
            doc.Flavour.ToName(),
            images,
            listedOnce.Count(i => i.Regions.Count > 0),
            regions.Count,
            shapes,
            classes,
            key,
            problems.Select(p => new ProblemEntry(p.Image, p.Region, p.Message)).ToList()
        )
        {
            ImagesSkipped = imagesSkipped,
            RegionsSkipped = regionsSkipped,
        };
    }
}
