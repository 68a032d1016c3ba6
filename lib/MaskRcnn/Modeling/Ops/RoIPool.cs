using TorchSharp;
using static TorchSharp.torch;

namespace MaskRcnn.Modeling.Ops;

/// <summary>
/// RoIPool (Girshick, Fast R-CNN) with the semantics of torchvision.ops.roi_pool: box corners are rounded
/// to the feature grid, each bin covers ⌊·⌋..⌈·⌉ whole cells and takes their maximum; empty bins are 0.
/// The rounding is what RoIAlign removes — the teaching notebook compares the two.
/// <see cref="Apply"/> runs the forward-only CPU kernel (<see cref="Kernels.RoIPoolKernel"/>) where it applies and
/// <see cref="Reference"/> (tensor operations, differentiable) otherwise; both give the same numbers (a parity test
/// holds them to it).
/// </summary>
public static class RoIPool
{
    /// <param name="input">features [B, C, H, W]</param>
    /// <param name="rois">[K, 5]: batch index, x1, y1, x2, y2 in input-image pixels</param>
    /// <returns>[K, C, outH, outW]</returns>
    public static Tensor Apply(Tensor input, Tensor rois, (int H, int W) outputSize, double spatialScale) =>
        Kernels.RoIPoolKernel.Applies(input)
            ? Kernels.RoIPoolKernel.Pool(input, rois, outputSize, spatialScale)
            : Reference(input, rois, outputSize, spatialScale);

    /// <summary>
    /// The reference: tensor operations, differentiable. Each RoI's bins are pooled from its own crop of the feature
    /// map with row/column membership masks (memory ∝ C × RoI cells × bins per RoI), one RoI at a time.
    /// </summary>
    public static Tensor Reference(Tensor input, Tensor rois, (int H, int W) outputSize, double spatialScale)
    {
        long k = rois.shape[0],
            c = input.shape[1],
            h = input.shape[2],
            w = input.shape[3];
        if (k == 0)
            return zeros(new long[] { 0, c, outputSize.H, outputSize.W }, dtype: input.dtype, device: input.device);
        using var scope = NewDisposeScope();
        var r = rois.to(float64);
        var rows = Membership(r[.., 2], r[.., 4], spatialScale, outputSize.H, h, input.dtype); // [K, PH, H]
        var cols = Membership(r[.., 1], r[.., 3], spatialScale, outputSize.W, w, input.dtype); // [K, PW, W]
        // Each RoI only reads the cells its bins cover: crop those first, so memory is per RoI, not per feature map.
        var (y0, y1) = Span(rows);
        var (x0, x1) = Span(cols);
        var image = r[.., 0].to(int64).ToLongArray();
        var result = zeros(new long[] { k, c, outputSize.H, outputSize.W }, dtype: input.dtype, device: input.device);
        for (int i = 0; i < k; i++)
        {
            if (y1[i] <= y0[i] || x1[i] <= x0[i])
                continue; // every bin empty: 0
            using var roiScope = NewDisposeScope();
            // [C, h', w']
            var features = input[image[i]].narrow(1, y0[i], y1[i] - y0[i]).narrow(2, x0[i], x1[i] - x0[i]);
            var rowMask = rows[i].narrow(1, y0[i], y1[i] - y0[i]); // [PH, h']
            var colMask = cols[i].narrow(1, x0[i], x1[i] - x0[i]); // [PW, w']
            result[i] = PoolBins(features, rowMask, colMask);
        }
        return result.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The maximum of each bin: over the columns of each column bin, then over the rows of each row bin; an empty bin
    /// (no cell) is 0. features [C, h, w], rows [PH, h], cols [PW, w] → [C, PH, PW].
    /// </summary>
    static Tensor PoolBins(Tensor features, Tensor rows, Tensor cols)
    {
        long c = features.shape[0],
            h = features.shape[1],
            w = features.shape[2];
        long ph = rows.shape[0],
            pw = cols.shape[0];
        float lowest = float.MinValue;
        var byCol = features
            .unsqueeze(2) // [C, h, 1, w]
            .masked_fill(cols.view(1, 1, pw, w).logical_not(), lowest)
            .amax(-1); // [C, h, PW]
        var pooled = byCol
            .unsqueeze(1) // [C, 1, h, PW]
            .masked_fill(rows.view(1, ph, h, 1).logical_not(), lowest)
            .amax(2); // [C, PH, PW]
        var empty = rows.any(-1).view(1, ph, 1).logical_not().logical_or(cols.any(-1).view(1, 1, pw).logical_not());
        return pooled.masked_fill(empty, 0);
    }

    /// <summary>Per RoI, the first and one-past-last cell any bin covers along an axis (membership [K, P,
    /// size]).</summary>
    static (long[] Start, long[] End) Span(Tensor membership)
    {
        var covered = membership.any(1); // [K, size]
        long size = covered.shape[1];
        var index = arange(size, device: covered.device).view(1, size);
        var start = index.masked_fill(covered.logical_not(), size).amin(1);
        var end = (index + 1).masked_fill(covered.logical_not(), 0).amax(1);
        return (start.ToLongArray(), end.ToLongArray());
    }

    /// <summary>For each RoI and bin, which feature cells along one axis the bin covers.</summary>
    static Tensor Membership(Tensor lo, Tensor hi, double scale, int bins, long size, ScalarType dtype)
    {
        var start = RoundHalfAwayFromZero(lo * scale);
        var end = RoundHalfAwayFromZero(hi * scale);
        var length = (end - start + 1).clamp_min(1);
        var binSize = length.to(dtype) / (float)bins; // T in the kernel
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
