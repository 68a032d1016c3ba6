using System.Text.Json.Serialization;
using MaskRcnn.Data.Via;

namespace MaskRcnn.Data;

/// <summary>What <c>maskrcnn inspect-data</c> reports: counts of what the file contains (before any filtering) and every problem.</summary>
public sealed record ViaSummary(
    [property: JsonPropertyName("format")] string Format,
    [property: JsonPropertyName("images")] int Images,
    [property: JsonPropertyName("images_with_regions")] int ImagesWithRegions,
    [property: JsonPropertyName("regions")] int Regions,
    [property: JsonPropertyName("shapes")] SortedDictionary<string, int> Shapes,
    [property: JsonPropertyName("classes")] SortedDictionary<string, int> Classes,
    [property: JsonPropertyName("label_key")] string? LabelKey,
    [property: JsonPropertyName("problems")] IReadOnlyList<ProblemEntry> Problems);

public sealed record ProblemEntry(
    [property: JsonPropertyName("image")] string Image,
    [property: JsonPropertyName("region")] int? Region,
    [property: JsonPropertyName("message")] string Message);

public static class ViaInspection
{
    /// <summary>Label used in <see cref="ViaSummary.Classes"/> for regions without one.</summary>
    public const string Unlabelled = "(unlabelled)";

    /// <summary>
    /// Counts images, annotated images, regions, shapes (by the file's shape names) and labels (normalised
    /// values of the label attribute), and gathers problems: the reader's, label problems, shapes without
    /// area, and — when <paramref name="imagesDir"/> is given — missing/unreadable images and out-of-image shapes.
    /// </summary>
    public static ViaSummary Summarize(ViaDocument doc, string? imagesDir = null, LabelOptions? labels = null)
    {
        labels ??= LabelOptions.Default;
        string? key = LabelResolver.DetectLabelKey(doc, labels);
        var regions = doc.Images.SelectMany(i => i.Regions).ToList();
        var shapes = new SortedDictionary<string, int>(StringComparer.Ordinal);
        foreach (var r in regions) shapes[r.ShapeName] = shapes.GetValueOrDefault(r.ShapeName) + 1;
        var classes = new SortedDictionary<string, int>(StringComparer.Ordinal);
        foreach (var r in regions)
        {
            var values = key is null ? [] : LabelResolver.Values(r.Attributes, key);
            string name = values.Count == 0 ? Unlabelled : string.Join("+", values.Select(LabelResolver.Normalize));
            classes[name] = classes.GetValueOrDefault(name) + 1;
        }

        List<ViaProblem> problems;
        if (imagesDir is not null)
        {
            problems = DatasetLoader.FromDocument(doc, imagesDir, labels with { Unlabeled = labels.Unlabeled == UnlabeledPolicy.Error ? UnlabeledPolicy.Skip : labels.Unlabeled }).Problems.ToList();
        }
        else
        {
            problems = doc.Problems.ToList();
            var known = LabelResolver.KnownNames(labels);
            foreach (var image in doc.Images)
                foreach (var r in image.Regions.Where(r => r.Shape is not null))
                {
                    if (!r.Shape!.HasArea) { problems.Add(new ViaProblem(image.FileName, r.Index, $"{r.ShapeName} has no area; skipped")); continue; }
                    var (id, problem) = LabelResolver.Resolve(r, key, labels, known);
                    if (id is null) problems.Add(new ViaProblem(image.FileName, r.Index, problem + "; region skipped"));
                }
        }
        return new ViaSummary(doc.Flavour.ToName(), doc.Images.Count, doc.Images.Count(i => i.Regions.Count > 0), regions.Count,
            shapes, classes, key, problems.Select(p => new ProblemEntry(p.Image, p.Region, p.Message)).ToList());
    }
}
