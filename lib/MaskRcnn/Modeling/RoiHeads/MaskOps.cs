using MaskRcnn.Modeling.Ops;
using TorchSharp;
using static TorchSharp.torch;

namespace MaskRcnn.Modeling.RoiHeads;

/// <summary>Mask targets for training and mask pasting for inference.</summary>
public static class MaskOps
{
    /// <summary>
    /// Crops each matched GT mask to its proposal and resamples it to M×M (torchvision's
    /// project_masks_on_boxes: RoIAlign with adaptive sampling, not aligned). Values in [0, 1].
    /// </summary>
    /// <param name="gtMasks">[G, H, W] (any numeric type)</param>
    /// <param name="boxes">[P, 4] proposals in the same pixel frame</param>
    /// <param name="matchedIdx">[P] GT index per proposal</param>
    /// <returns>[P, M, M]</returns>
    public static Tensor ProjectMasksOnBoxes(Tensor gtMasks, Tensor boxes, Tensor matchedIdx, int m)
    {
        using var scope = NewDisposeScope();
        var rois = cat([matchedIdx.to(boxes.dtype).unsqueeze(1), boxes], 1);
        return RoIAlign
            .Apply(gtMasks.unsqueeze(1).to(boxes.dtype), rois, (m, m), 1.0)
            .select(1, 0)
            .MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Pastes M×M mask probabilities into an image of <paramref name="imageSize"/> at their boxes, as
    /// torchvision's paste_masks_in_image: the mask is padded by one pixel, its box expanded by the same
    /// factor and truncated to integers, resized bilinearly (align_corners = false) to the box and copied in.
    /// Vectorised: the bilinear resize is separable, so every mask becomes R · M · Cᵀ with R [H, S] and C [W, S]
    /// resampling matrices (two weights per row, the interpolation kernel's, zero outside the box): two batched
    /// matrix products instead of a per-mask loop or whole-image gathers.
    /// </summary>
    /// <param name="masks">[N, 1, M, M] probabilities</param>
    /// <param name="boxes">[N, 4] in image pixels</param>
    /// <returns>[N, 1, H, W]</returns>
    public static Tensor PasteMasksInImage(Tensor masks, Tensor boxes, (long H, long W) imageSize, int padding = 1)
    {
        long n = masks.shape[0];
        var (imH, imW) = imageSize;
        if (n == 0)
            return masks.new_empty(0, 1, imH, imW);
        using var scope = NewDisposeScope();
        long m = masks.shape[^1];
        double scale = (double)(m + 2 * padding) / m;
        var padded = nn.functional.pad(masks, [padding, padding, padding, padding]).select(1, 0); // [N, S, S]
        long s = padded.shape[1];
        var box = ExpandBoxes(boxes, scale).to(int64); // [N, 4]

        // Only the output [N, H, W] is image-sized; the resampling matrices and the horizontal pass are S-thin.
        var result = Paste(padded, box, s, imH, imW).unsqueeze(1);
        return result.MoveToOuterDisposeScope();
    }

    static Tensor Paste(Tensor masks, Tensor box, long s, long imH, long imW)
    {
        var x0 = box[.., 0];
        var y0 = box[.., 1];
        var x1 = box[.., 2];
        var y1 = box[.., 3];
        var w = (x1 - x0 + 1).clamp_min(1);
        var h = (y1 - y0 + 1).clamp_min(1);
        var cols = Interpolation(Axis(x0, w, s, imW, masks.dtype), s, masks.dtype); // [k, W, S]
        var rows = Interpolation(Axis(y0, h, s, imH, masks.dtype), s, masks.dtype); // [k, H, S]
        // Horizontal pass [k, S, W], then vertical [k, H, W]; pixels outside the box have all-zero weights.
        return rows.bmm(masks.bmm(cols.transpose(1, 2)));
    }

    /// <summary>[k, size, src] resampling matrices: two bilinear weights per row, zero rows outside the box.</summary>
    static Tensor Interpolation(AxisWeights a, long src, ScalarType dtype)
    {
        var inside = a.Inside.to(dtype);
        var matrix = zeros(new long[] { a.I0.shape[0], a.I0.shape[1], src }, dtype: dtype, device: a.I0.device);
        matrix.scatter_add_(2, a.I0.unsqueeze(2), (a.W0 * inside).unsqueeze(2));
        matrix.scatter_add_(2, a.I1.unsqueeze(2), (a.W1 * inside).unsqueeze(2));
        return matrix;
    }

    sealed record AxisWeights(Tensor I0, Tensor I1, Tensor W0, Tensor W1, Tensor Inside);

    /// <summary>
    /// For image coordinates 0..size−1 and each box starting at <paramref name="start"/> with integer length
    /// <paramref name="length"/>: source indices and weights of align_corners=false bilinear resizing from
    /// <paramref name="src"/> samples to <paramref name="length"/>, and whether the pixel lies inside the box.
    /// </summary>
    static AxisWeights Axis(Tensor start, Tensor length, long src, long size, ScalarType dtype)
    {
        var pos = arange(size, dtype: int64, device: start.device).unsqueeze(0); // [1, size]
        var local = pos - start.unsqueeze(1); // [k, size]
        var inside = local.ge(0).logical_and(local.lt(length.unsqueeze(1)));
        // As torch 1.13's upsample_bilinear2d (the reference torchvision 0.14 runs on): scale = src/len in
        // float, the source index scale·(j + 0.5) − 0.5 (clamped at 0) and λ in double, weights stored as float.
        var len = length.to(dtype);
        var scale = full_like(len, src).div(len).to(float64).unsqueeze(1);
        var real = (scale * (local.clamp_min(0).to(float64) + 0.5) - 0.5).clamp_min(0);
        var i0 = real.floor().to(int64).clamp_max(src - 1);
        var lambda = (real - i0.to(float64)).clamp(0, 1);
        var i1 = i0 + i0.lt(src - 1).to(int64);
        return new AxisWeights(i0, i1, (1 - lambda).to(dtype), lambda.to(dtype), inside);
    }

    /// <summary>Scales boxes about their centres (torchvision's expand_boxes).</summary>
    public static Tensor ExpandBoxes(Tensor boxes, double scale)
    {
        using var scope = NewDisposeScope();
        var wHalf = (boxes[.., 2] - boxes[.., 0]) * 0.5f * (float)scale;
        var hHalf = (boxes[.., 3] - boxes[.., 1]) * 0.5f * (float)scale;
        var xc = (boxes[.., 2] + boxes[.., 0]) * 0.5f;
        var yc = (boxes[.., 3] + boxes[.., 1]) * 0.5f;
        return stack([xc - wHalf, yc - hHalf, xc + wHalf, yc + hHalf], 1).MoveToOuterDisposeScope();
    }
}
