using TorchSharp;
using static TorchSharp.torch;

namespace MaskRcnn.Modeling.Utils;

/// <summary>
/// Samples up to <c>batchSizePerImage</c> elements per image with at most <c>positiveFraction</c> positives
/// (label ≥ 1), filling the rest with negatives (label 0); −1 is ignored. Random choice uses torch's
/// generator (torch.manual_seed makes it reproducible).
/// </summary>
public sealed class BalancedPositiveNegativeSampler(int batchSizePerImage, double positiveFraction)
{
    public int BatchSizePerImage { get; } = batchSizePerImage;
    public double PositiveFraction { get; } = positiveFraction;

    /// <summary>Per image, boolean masks of the sampled positives and negatives.</summary>
    public (List<Tensor> Positive, List<Tensor> Negative) Sample(IReadOnlyList<Tensor> labelsPerImage)
    {
        var pos = new List<Tensor>();
        var neg = new List<Tensor>();
        foreach (var labels in labelsPerImage)
        {
            using var scope = NewDisposeScope();
            var positive = nonzero(labels.ge(1)).view(-1);
            var negative = nonzero(labels.eq(0)).view(-1);
            long numPos = Math.Min(positive.shape[0], (long)(BatchSizePerImage * PositiveFraction));
            long numNeg = Math.Min(negative.shape[0], BatchSizePerImage - numPos);
            var pickPos = positive.index_select(0, randperm(positive.shape[0], device: labels.device)[..(int)numPos]);
            var pickNeg = negative.index_select(0, randperm(negative.shape[0], device: labels.device)[..(int)numNeg]);
            pos.Add(zeros_like(labels, dtype: @bool).index_fill_(0, pickPos, true).MoveToOuterDisposeScope());
            neg.Add(zeros_like(labels, dtype: @bool).index_fill_(0, pickNeg, true).MoveToOuterDisposeScope());
        }
        return (pos, neg);
    }
}
