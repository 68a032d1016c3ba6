using TorchSharp;
using static TorchSharp.torch;

namespace MaskRcnn.Modeling.Utils;

/// <summary>
/// Assigns each prediction (anchor or proposal) the ground-truth box it overlaps most: the GT index when
/// IoU ≥ high, <see cref="BelowLowThreshold"/> (−1, background) when IoU &lt; low, and
/// <see cref="BetweenThresholds"/> (−2, ignored) in between. With <c>allowLowQualityMatches</c>, every GT
/// also keeps the predictions it overlaps best (ties included), however low — so no GT goes unmatched.
/// </summary>
public sealed class Matcher(double highThreshold, double lowThreshold, bool allowLowQualityMatches)
{
    public const long BelowLowThreshold = -1;
    public const long BetweenThresholds = -2;
    public double HighThreshold { get; } =
        highThreshold >= lowThreshold
            ? highThreshold
            : throw new ArgumentException("low_threshold should be <= high_threshold");
    public double LowThreshold { get; } = lowThreshold;
    public bool AllowLowQualityMatches { get; } = allowLowQualityMatches;

    /// <param name="matchQuality">[M ground truths, N predictions] IoU matrix</param>
    /// <returns>int64 [N]: matched GT index or a negative code</returns>
    public Tensor Match(Tensor matchQuality)
    {
        if (matchQuality.numel() == 0)
            throw new ArgumentException(
                matchQuality.shape[0] == 0
                    ? "No ground-truth boxes available for one of the images during training"
                    : "No proposal boxes available for one of the images during training"
            );
        using var scope = NewDisposeScope();
        var (matchedVals, matches) = matchQuality.max(0);
        var allMatches = AllowLowQualityMatches ? matches.clone() : null;
        var below = matchedVals.lt(LowThreshold);
        var between = matchedVals.ge(LowThreshold).logical_and(matchedVals.lt(HighThreshold));
        matches = matches.masked_fill(below, BelowLowThreshold).masked_fill(between, BetweenThresholds);
        if (allMatches is not null)
        {
            var highestForEachGt = matchQuality.amax(1);
            var isBest = matchQuality.eq(highestForEachGt.unsqueeze(1)).any(0); // [N]
            matches = where(isBest, allMatches, matches);
        }
        return matches.MoveToOuterDisposeScope();
    }
}
