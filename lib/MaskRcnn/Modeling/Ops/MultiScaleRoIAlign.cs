using TorchSharp;
using static TorchSharp.torch;

namespace MaskRcnn.Modeling.Ops;

/// <summary>
/// Assigns each RoI to an FPN level by its size (FPN paper, eq. 1): level = ⌊k0 + log2(√area / s0) + ε⌋,
/// clamped to the available levels; torchvision's canonical scale s0 = 224 and level k0 = 4.
/// </summary>
public sealed class LevelMapper(int kMin, int kMax, int canonicalScale = 224, int canonicalLevel = 4, double eps = 1e-6)
{
    public int KMin { get; } = kMin;
    public int KMax { get; } = kMax;

    /// <summary>Level index (0 = finest given level) per box, int64 [N].</summary>
    public Tensor Map(Tensor boxes)
    {
        using var scope = NewDisposeScope();
        var s = BoxOps.BoxArea(boxes).sqrt();
        var level = (
            canonicalLevel + (s / canonicalScale).log2() + tensor((float)eps, dtype: s.dtype, device: s.device)
        ).floor();
        level = level.clamp(KMin, KMax);
        return (level.to(int64) - KMin).MoveToOuterDisposeScope();
    }
}

/// <summary>
/// torchvision's MultiScaleRoIAlign: pools each RoI from the FPN level its size maps to. The level scales
/// are inferred from the feature sizes and the largest image size, exactly as torchvision does. The model's poolers
/// come from the layer factory (<see cref="Layers.RoIAlign"/>), which picks their number format and the layout of
/// their result.
/// </summary>
public class MultiScaleRoIAlign(int outputSize, int samplingRatio, int canonicalScale = 224, int canonicalLevel = 4)
{
    public int OutputSize { get; } = outputSize;
    public int SamplingRatio { get; } = samplingRatio;

    /// <param name="features">the pooled levels, finest first (FPN '0'..'3'), each [B, C, h, w]</param>
    /// <param name="boxes">per image [N_i, 4] in resized-image pixels</param>
    /// <param name="imageSizes">per image (height, width) after resizing, before padding</param>
    /// <returns>[ΣN_i, C, S, S]</returns>
    public virtual Tensor Forward(
        IReadOnlyList<Tensor> features,
        IReadOnlyList<Tensor> boxes,
        IReadOnlyList<(long H, long W)> imageSizes
    )
    {
        using var scope = NewDisposeScope();
        var rois = ToRoiFormat(boxes);
        var (scales, mapper) = SetupScales(features, imageSizes);
        if (features.Count == 1)
        {
            var single = RoIAlign.Apply(features[0], rois, (OutputSize, OutputSize), scales[0], SamplingRatio);
            return SingleLevelResult(single).MoveToOuterDisposeScope();
        }

        var levels = mapper.Map(rois[.., 1..]);
        var result = NewResult(rois.shape[0], features[0]);
        for (int level = 0; level < features.Count; level++)
        {
            var idx = nonzero(levels.eq(level)).view(-1);
            if (idx.shape[0] == 0)
                continue;
            var pooled = RoIAlign.Apply(
                features[level],
                rois.index_select(0, idx),
                (OutputSize, OutputSize),
                scales[level],
                SamplingRatio
            );
            result.index_copy_(0, idx, pooled); // in place: keeps the layout (differentiable w.r.t. pooled)
        }
        return result.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The zeros [K, C, S, S] that the levels' pooled RoIs are copied into, in place (the copies keep its layout):
    /// contiguous, as torchvision's.
    /// </summary>
    /// <param name="rois">K</param>
    /// <param name="like">a feature level [B, C, h, w]: channels, type and device</param>
    protected virtual Tensor NewResult(long rois, Tensor like) =>
        zeros(new long[] { rois, like.shape[1], OutputSize, OutputSize }, dtype: like.dtype, device: like.device);

    /// <summary>The result when there is one level: RoIAlign's own output [K, C, S, S].</summary>
    protected virtual Tensor SingleLevelResult(Tensor pooled) => pooled;

    /// <summary>[ΣN_i, 5] rows of (image index, x1, y1, x2, y2).</summary>
    public static Tensor ToRoiFormat(IReadOnlyList<Tensor> boxes)
    {
        using var scope = NewDisposeScope();
        var ids = boxes
            .Select((b, i) => full(new long[] { b.shape[0], 1 }, i, dtype: b.dtype, device: b.device))
            .ToArray();
        return cat([cat(ids, 0), cat(boxes.ToArray(), 0)], 1).MoveToOuterDisposeScope();
    }

    /// <summary>Per-level scale 2^round(log2(feature size / image size)) and the level mapper.</summary>
    public (double[] Scales, LevelMapper Mapper) SetupScales(
        IReadOnlyList<Tensor> features,
        IReadOnlyList<(long H, long W)> imageSizes
    )
    {
        if (imageSizes.Count == 0)
            throw new ArgumentException("images list should not be empty");
        long maxH = imageSizes.Max(s => s.H);
        var scales = features.Select(f => InferScale(f.shape[^2], maxH)).ToArray();
        int lvlMin = (int)(-Math.Log2((float)scales[0]));
        int lvlMax = (int)(-Math.Log2((float)scales[^1]));
        return (scales, new LevelMapper(lvlMin, lvlMax, canonicalScale, canonicalLevel));
    }

    static double InferScale(long featureSize, long imageSize)
    {
        var approx = (float)((double)featureSize / imageSize); // Python float division, then a float32 tensor
        return Math.Pow(2, Math.Round(Math.Log2(approx), MidpointRounding.ToEven));
    }
}
