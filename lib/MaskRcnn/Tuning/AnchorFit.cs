using System.Text.Json.Serialization;
using MaskRcnn.Config;
using MaskRcnn.Data;
using MaskRcnn.Modeling;
using MaskRcnn.Modeling.Ops;
using MaskRcnn.Modeling.Rpn;
using TorchSharp;
using static TorchSharp.torch;

namespace MaskRcnn.Tuning;

/// <summary>Five points of a distribution: 5 %, 25 %, 50 %, 75 %, 95 %.</summary>
public sealed record Quantiles(
    [property: JsonPropertyName("p05")] double P05,
    [property: JsonPropertyName("p25")] double P25,
    [property: JsonPropertyName("median")] double Median,
    [property: JsonPropertyName("p75")] double P75,
    [property: JsonPropertyName("p95")] double P95
)
{
    public static Quantiles Of(IReadOnlyList<double> values) =>
        new(
            LesionGeometry.Quantile(values, 0.05),
            LesionGeometry.Quantile(values, 0.25),
            LesionGeometry.Quantile(values, 0.5),
            LesionGeometry.Quantile(values, 0.75),
            LesionGeometry.Quantile(values, 0.95)
        );
}

/// <summary>A lesion's best anchor: its IoU and the FPN level ('0' … 'pool' as 0 … 4) it lies on.</summary>
public sealed record LesionAnchor(LesionBox Lesion, double BestIou, int Level);

/// <summary>
/// How well a configuration's anchors fit a dataset's lesions, as the RPN labels them: after the resize, every lesion
/// against every anchor of its image (the model's <see cref="AnchorGenerator"/> over the feature maps of the padded
/// image, <see cref="BoxOps.BoxIou"/>). A lesion whose best anchor reaches rpn_fg_iou_thresh (0.7) gets positive
/// anchors of good quality; one below it still gets its best anchor(s) as a positive (torchvision's low-quality
/// matches), but that anchor overlaps it poorly and its regression targets are large.
/// </summary>
public sealed record AnchorFitReport(
    [property: JsonPropertyName("min_size")] int MinSize,
    [property: JsonPropertyName("max_size")] int MaxSize,
    [property: JsonPropertyName("anchor_sizes")] double[][] AnchorSizes,
    [property: JsonPropertyName("aspect_ratios")] double[][] AspectRatios,
    [property: JsonPropertyName("lesions")] int Lesions,
    [property: JsonPropertyName("size_px")] Quantiles? Size,
    [property: JsonPropertyName("aspect_ratio_h_over_w")] Quantiles? AspectRatio,
    [property: JsonPropertyName("smallest_anchor_px")] double SmallestAnchor,
    [property: JsonPropertyName("below_smallest_anchor")] int BelowSmallestAnchor,
    [property: JsonPropertyName("positive_iou")] double PositiveIou,
    [property: JsonPropertyName("share_with_positive_anchor")] double? ShareMatched,
    [property: JsonPropertyName("median_best_iou")] double? MedianBestIou,
    [property: JsonPropertyName("lesions_per_level")] int[] PerLevel,
    [property: JsonPropertyName("grid_limit_px")] double GridLimit,
    [property: JsonPropertyName("warnings")] IReadOnlyList<string> Warnings
)
{
    /// <summary>Every lesion with its best anchor (not written to JSON).</summary>
    [JsonIgnore]
    public IReadOnlyList<LesionAnchor> Details { get; init; } = [];
}

public static class AnchorFit
{
    /// <summary>The lesions of <paramref name="data"/> against the anchors of <paramref name="config"/>.</summary>
    public static AnchorFitReport Analyze(Dataset data, MaskRcnnConfig config) =>
        Analyze(LesionGeometry.Of(data, config), config);

    public static AnchorFitReport Analyze(IReadOnlyList<LesionBox> lesions, MaskRcnnConfig config)
    {
        var details = BestAnchors(lesions, config);
        var sizes = lesions.Select(l => l.Size).ToList();
        double smallest = config.AnchorSizes.SelectMany(s => s).Min();
        double threshold = config.RpnFgIouThresh;
        double gridLimit = GridLimit(Stride(0), threshold);
        var ious = details.Select(d => d.BestIou).ToList();
        double? share = lesions.Count == 0 ? null : ious.Count(i => i >= threshold) / (double)lesions.Count;
        var perLevel = new int[config.AnchorSizes.Length];
        foreach (var d in details)
            perLevel[d.Level]++;
        var report = new AnchorFitReport(
            config.MinSize[^1],
            config.MaxSize,
            config.AnchorSizes,
            config.AspectRatios,
            lesions.Count,
            lesions.Count == 0 ? null : Quantiles.Of(sizes),
            lesions.Count == 0 ? null : Quantiles.Of(lesions.Select(l => l.AspectRatio).ToList()),
            smallest,
            sizes.Count(s => s < smallest),
            threshold,
            share,
            lesions.Count == 0 ? null : LesionGeometry.Quantile(ious, 0.5),
            perLevel,
            Math.Round(gridLimit, 1),
            []
        )
        {
            Details = details,
        };
        return report with { Warnings = Warnings(report, sizes) };
    }

    /// <summary>
    /// The smallest square lesion that some anchor of its own size overlaps at IoU ≥ <paramref name="threshold"/>
    /// wherever it lies: anchors sit every <paramref name="stride"/> pixels, so a lesion can be stride / 2 off the
    /// nearest in x and y; IoU = (s − d)² / (2s² − (s − d)²) with d = stride / 2.
    /// </summary>
    public static double GridLimit(double stride, double threshold) =>
        stride / 2 / (1 - Math.Sqrt(2 * threshold / (1 + threshold)));

    /// <summary>The anchors' stride on FPN level <paramref name="level"/> (4, 8, 16, 32, 64).</summary>
    public static double Stride(int level) => 4 << level;

    static IReadOnlyList<string> Warnings(AnchorFitReport r, IReadOnlyList<double> sizes)
    {
        var warnings = new List<string>();
        string resize = $"after the resize (min_size {r.MinSize}, max_size {r.MaxSize})";
        if (r.Lesions == 0)
            return ["no lesions: nothing to fit anchors to"];
        if (r.BelowSmallestAnchor > 0)
            warnings.Add(
                $"{r.BelowSmallestAnchor} of {r.Lesions} lesions ({Percent(r.BelowSmallestAnchor, r.Lesions)}) are "
                    + $"smaller than the smallest anchor ({r.SmallestAnchor:G4} px) {resize}"
            );
        int underGrid = sizes.Count(s => s < r.GridLimit);
        if (underGrid > 0)
            warnings.Add(
                $"{underGrid} lesions are under {r.GridLimit:F0} px, the size below which anchors every "
                    + $"{Stride(0):F0} px cannot promise IoU ≥ {r.PositiveIou} wherever a lesion lies; a larger "
                    + "min_size makes them bigger"
            );
        if (r.ShareMatched is double share && share < 0.95)
            warnings.Add(
                $"{Percent(r.Lesions - (int)Math.Round(share * r.Lesions), r.Lesions)} of the lesions have no anchor "
                    + $"at IoU ≥ {r.PositiveIou} (the RPN's positive threshold): they get only their best anchor, as "
                    + "a low-quality positive (--suggest-anchors proposes anchors that fit)"
            );
        return warnings;
    }

    static string Percent(int part, int whole) => $"{100.0 * part / whole:F0} %";

    /// <summary>
    /// Each lesion's best IoU over the anchors of its padded image size and the level of that anchor. Anchors are
    /// made once per padded size (size_divisible makes few of them).
    /// </summary>
    static List<LesionAnchor> BestAnchors(IReadOnlyList<LesionBox> lesions, MaskRcnnConfig config)
    {
        var generator = config.ToAnchorGenerator();
        var result = new LesionAnchor[lesions.Count];
        var bySize = Enumerable.Range(0, lesions.Count).GroupBy(i => (lesions[i].PaddedHeight, lesions[i].PaddedWidth));
        foreach (var group in bySize)
        {
            using var scope = NewDisposeScope();
            var (h, w) = group.Key;
            var (anchors, perLevel) = generator.Forward((h, w), FeatureSizes(h, w, perLevelCount: 5), float32, CPU);
            var indices = group.ToArray();
            var boxes = tensor(
                    indices
                        .SelectMany(i => new[] { lesions[i].X1, lesions[i].Y1, lesions[i].X2, lesions[i].Y2 })
                        .Select(v => (float)v)
                        .ToArray()
                )
                .view(-1, 4);
            var (best, at) = BoxOps.BoxIou(boxes, anchors).max(1);
            var ends = perLevel.Select((_, k) => perLevel.Take(k + 1).Sum()).ToArray();
            for (int j = 0; j < indices.Length; j++)
            {
                long anchor = at[j].item<long>();
                int level = Array.FindIndex(ends, e => anchor < e);
                result[indices[j]] = new LesionAnchor(lesions[indices[j]], best[j].item<float>(), level);
            }
        }
        return result.ToList();
    }

    /// <summary>
    /// The feature-map sizes of the FPN levels '0' … 'pool' for a padded image: ResNet's stem and each stage halve
    /// (rounding up), the pool level halves P5 once more — the sizes the model's anchors are laid over.
    /// </summary>
    public static (long H, long W)[] FeatureSizes(long h, long w, int perLevelCount)
    {
        static long Half(long n) => (n + 1) / 2;
        (long H, long W) size = (Half(Half(h)), Half(Half(w))); // stride 4: the stem's convolution and max pool
        var sizes = new List<(long, long)>();
        for (int level = 0; level < perLevelCount; level++)
        {
            sizes.Add(size);
            size = (Half(size.H), Half(size.W));
        }
        return sizes.ToArray();
    }
}
