using TorchSharp;
using static TorchSharp.torch;

namespace MaskRcnn.Modeling.Ops;

/// <summary>
/// RoIPool (Girshick, Fast R-CNN) with the semantics of torchvision.ops.roi_pool: box corners are rounded
/// to the feature grid, each bin covers ⌊·⌋..⌈·⌉ whole cells and takes their maximum; empty bins are 0.
/// The rounding is what RoIAlign removes — the teaching notebook compares the two. Vectorised with
/// row/column membership masks; meant for teaching-sized inputs (memory ∝ RoIs × C × H × W × bins).
/// </summary>
public static class RoIPool
{
    /// <param name="input">features [B, C, H, W]</param>
    /// <param name="rois">[K, 5]: batch index, x1, y1, x2, y2 in input-image pixels</param>
    /// <returns>[K, C, outH, outW]</returns>
    public static Tensor Apply(Tensor input, Tensor rois, (int H, int W) outputSize, double spatialScale)
    {
        long k = rois.shape[0], c = input.shape[1], h = input.shape[2], w = input.shape[3];
        if (k == 0) return zeros(new long[] { 0, c, outputSize.H, outputSize.W }, dtype: input.dtype, device: input.device);
        using var scope = NewDisposeScope();
        var r = rois.to(float64);
        var rows = Membership(r[.., 2], r[.., 4], spatialScale, outputSize.H, h, input.dtype);   // [K, PH, H]
        var cols = Membership(r[.., 1], r[.., 3], spatialScale, outputSize.W, w, input.dtype);   // [K, PW, W]
        var features = input.index_select(0, r[.., 0].to(int64));                                  // [K, C, H, W]

        float lowest = float.MinValue;
        // Max over columns of each column bin: [K, C, H, PW]
        var byCol = features.unsqueeze(3)                                  // [K, C, H, 1, W]
            .masked_fill(cols.view(k, 1, 1, outputSize.W, w).logical_not(), lowest)
            .amax(-1);
        // Then over rows of each row bin: [K, C, PH, PW]
        var pooled = byCol.unsqueeze(2)                                     // [K, C, 1, H, PW]
            .masked_fill(rows.view(k, 1, outputSize.H, h, 1).logical_not(), lowest)
            .amax(3);
        var empty = rows.any(-1).view(k, 1, outputSize.H, 1).logical_not()
            .logical_or(cols.any(-1).view(k, 1, 1, outputSize.W).logical_not());
        return pooled.masked_fill(empty, 0).MoveToOuterDisposeScope();
    }

    /// <summary>For each RoI and bin, which feature cells along one axis the bin covers.</summary>
    static Tensor Membership(Tensor lo, Tensor hi, double scale, int bins, long size, ScalarType dtype)
    {
        var start = RoundHalfAwayFromZero(lo * scale);
        var end = RoundHalfAwayFromZero(hi * scale);
        var length = (end - start + 1).clamp_min(1);
        var binSize = length.to(dtype) / (float)bins;                                     // T in the kernel
        var p = arange(bins, dtype: dtype, device: lo.device);
        var binStart = (p.unsqueeze(0) * binSize.unsqueeze(1)).floor() + start.unsqueeze(1).to(dtype);
        var binEnd = ((p + 1).unsqueeze(0) * binSize.unsqueeze(1)).ceil() + start.unsqueeze(1).to(dtype);
        binStart = binStart.clamp(0, size);
        binEnd = binEnd.clamp(0, size);
        var cells = arange(size, dtype: dtype, device: lo.device).view(1, 1, size);
        return cells.ge(binStart.unsqueeze(2)).logical_and(cells.lt(binEnd.unsqueeze(2)));
    }

    /// <summary>C's round(): halves away from zero (torch.round rounds halves to even).</summary>
    static Tensor RoundHalfAwayFromZero(Tensor x) => x.sign() * (x.abs() + 0.5).floor();
}
