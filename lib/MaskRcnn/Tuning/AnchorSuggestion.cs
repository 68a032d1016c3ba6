using System.Text.Json.Serialization;
using MaskRcnn.Config;

namespace MaskRcnn.Tuning;

/// <summary>Anchors proposed for a dataset, and how well they fit it.</summary>
public sealed record AnchorSuggestion(
    [property: JsonPropertyName("anchor_sizes")] double[][] AnchorSizes,
    [property: JsonPropertyName("aspect_ratios")] double[][] AspectRatios,
    [property: JsonPropertyName("fit")] AnchorFitReport Fit,
    [property: JsonPropertyName("current")] AnchorFitReport Current
)
{
    /// <summary>The configuration with the proposed anchors.</summary>
    public MaskRcnnConfig Apply(MaskRcnnConfig config) =>
        config with
        {
            AnchorSizes = AnchorSizes,
            AspectRatios = AspectRatios,
        };
}

/// <summary>
/// Proposes anchor sizes and aspect ratios that cover a dataset's lesions after the resize. Sizes: the smallest from
/// the lower quantile of the resized lesion sizes (a few factors around it), doubling from each FPN level to the next
/// as the levels' strides do — one size a level, or two (a half octave apart) where the lesions span more than the
/// five levels' 16× range. Ratios: the configuration's own, or three from the aspect-ratio quantiles (10 %, 50 %, 90 %
/// and 5 %, 50 %, 95 %). Each candidate is scored by the real anchors (<see cref="AnchorFit"/>): the share of lesions
/// with an anchor at IoU ≥ rpn_fg_iou_thresh, then fewer anchors per location, then the higher median best IoU.
/// </summary>
public static class AnchorSuggestions
{
    public static AnchorSuggestion Suggest(IReadOnlyList<LesionBox> lesions, MaskRcnnConfig config)
    {
        var current = AnchorFit.Analyze(lesions, config);
        if (lesions.Count == 0)
            return new AnchorSuggestion(config.AnchorSizes, config.AspectRatios, current, current);
        int levels = config.AnchorSizes.Length;
        var sizes = lesions.Select(l => l.Size).ToList();
        double low = LesionGeometry.Quantile(sizes, 0.02);
        var smallest = new[] { 0.8, 0.9, 1.0, 1.1, 1.25 }
            .Select(f => Math.Max(4, Math.Round(low * f)))
            .Append(config.AnchorSizes[0].Min())
            .Distinct();
        var ratios = new List<double[]> { config.AspectRatios[0] };
        var aspect = lesions.Select(l => l.AspectRatio).ToList();
        foreach (var (lo, hi) in new[] { (0.10, 0.90), (0.05, 0.95) })
            ratios.Add(
                new[] { lo, 0.5, hi }
                    .Select(q => Math.Round(LesionGeometry.Quantile(aspect, q) * 20) / 20)
                    .Select(r => Math.Max(0.05, r))
                    .Distinct()
                    .ToArray()
            );
        AnchorFitReport? best = null;
        foreach (double s0 in smallest)
        foreach (int perLevel in new[] { 1, 2 })
        foreach (var r in ratios)
        {
            var candidate = config with
            {
                AnchorSizes = Enumerable
                    .Range(0, levels)
                    .Select(l =>
                        Enumerable
                            .Range(0, perLevel)
                            .Select(j => Math.Round(s0 * Math.Pow(2, l + (double)j / perLevel)))
                            .ToArray()
                    )
                    .ToArray(),
                AspectRatios = Enumerable.Repeat(r, levels).ToArray(),
            };
            var fit = AnchorFit.Analyze(lesions, candidate);
            if (best is null || Better(fit, best))
                best = fit;
        }
        return new AnchorSuggestion(best!.AnchorSizes, best.AspectRatios, best, current);
    }

    /// <summary>More lesions matched (by more than half a percent), else fewer anchors per location, else a higher
    /// median best IoU.</summary>
    static bool Better(AnchorFitReport a, AnchorFitReport b)
    {
        double shareA = a.ShareMatched ?? 0,
            shareB = b.ShareMatched ?? 0;
        if (Math.Abs(shareA - shareB) > 0.005)
            return shareA > shareB;
        int anchorsA = a.AnchorSizes[0].Length * a.AspectRatios[0].Length,
            anchorsB = b.AnchorSizes[0].Length * b.AspectRatios[0].Length;
        if (anchorsA != anchorsB)
            return anchorsA < anchorsB;
        return (a.MedianBestIou ?? 0) > (b.MedianBestIou ?? 0);
    }
}
