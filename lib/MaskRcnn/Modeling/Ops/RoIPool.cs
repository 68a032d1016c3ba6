using System.Numerics;
using System.Runtime.CompilerServices;
using TorchSharp;
using static TorchSharp.torch;

namespace MaskRcnn.Modeling.Ops;

/// <summary>
/// RoIPool (Girshick, Fast R-CNN) with the semantics of torchvision.ops.roi_pool: box corners are rounded
/// to the feature grid, each bin covers ⌊·⌋..⌈·⌉ whole cells and takes their maximum; empty bins are 0.
/// The rounding is what RoIAlign removes — the teaching notebook compares the two.
/// <see cref="Apply"/> runs a CPU kernel over channels-last features (<see cref="Kernel"/>: one pass over the cells
/// each bin covers, the channels as vectors, RoIs in parallel) for float32 CPU tensors that need no gradient, and
/// <see cref="Reference"/> (tensor operations, differentiable) otherwise; both give the same numbers (a parity test
/// holds them to it).
/// </summary>
public static class RoIPool
{
    /// <param name="input">features [B, C, H, W]</param>
    /// <param name="rois">[K, 5]: batch index, x1, y1, x2, y2 in input-image pixels</param>
    /// <returns>[K, C, outH, outW] (stored channels-last when the kernel ran)</returns>
    public static Tensor Apply(Tensor input, Tensor rois, (int H, int W) outputSize, double spatialScale) =>
        KernelApplies(input)
            ? Kernel(input, rois, outputSize, spatialScale)
            : Reference(input, rois, outputSize, spatialScale);

    /// <summary>Whether <see cref="Apply"/> runs the kernel: float32 on the CPU, no gradient to record.</summary>
    public static bool KernelApplies(Tensor input) =>
        input.device_type == DeviceType.CPU
        && input.dtype == ScalarType.Float32
        && !(input.requires_grad && is_grad_enabled());

    /// <summary>
    /// The CPU kernel: for each RoI and output bin, the bin's cells [hstart, hend) × [wstart, wend) (the same
    /// rounding as <see cref="Reference"/>: corners rounded half away from zero in double precision, bin edges
    /// ⌊p·T⌋, ⌈(p+1)·T⌉ with T = length / bins in float32) are read once, all channels at a time, and their maximum
    /// kept with torchvision's comparison (a value replaces the maximum when it is greater; the maximum starts at
    /// float's lowest value; an empty bin is 0). Features are read channels-last (a view when they are stored so,
    /// as the FPN's are). Forward only.
    /// </summary>
    public static Tensor Kernel(Tensor input, Tensor rois, (int H, int W) outputSize, double spatialScale)
    {
        long k = rois.shape[0],
            c = input.shape[1],
            h = input.shape[2],
            w = input.shape[3];
        if (input.device_type != DeviceType.CPU || input.dtype != ScalarType.Float32)
            throw new ArgumentException("RoIPool.Kernel needs float32 CPU features");
        if (k == 0)
            return zeros(new long[] { 0, c, outputSize.H, outputSize.W }, dtype: input.dtype, device: input.device);
        using var scope = NewDisposeScope();
        var nhwc = input.detach().permute(0, 2, 3, 1).contiguous(); // a view for channels-last features
        var boxes = rois.detach().to(float64).cpu().contiguous().data<double>().ToArray();
        var rows = BinEdges(boxes, 2, 4, spatialScale, outputSize.H, h); // [K, PH] (start, end) cell rows
        var cols = BinEdges(boxes, 1, 3, spatialScale, outputSize.W, w);
        var result = empty(new long[] { k, outputSize.H, outputSize.W, c }, dtype: float32);
        PoolAll(nhwc, result, boxes, rows, cols, outputSize, h, w, c);
        return result.permute(0, 3, 1, 2).MoveToOuterDisposeScope();
    }

    static unsafe void PoolAll(
        Tensor nhwc,
        Tensor result,
        double[] boxes,
        (int Start, int End)[] rows,
        (int Start, int End)[] cols,
        (int H, int W) outputSize,
        long h,
        long w,
        long c
    )
    {
        float* features = Pointer(nhwc),
            output = Pointer(result);
        int ph = outputSize.H,
            pw = outputSize.W;
        long k = boxes.Length / 5;
        var options = new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, get_num_threads()) };
        Parallel.For(
            0L,
            k * ph,
            options,
            job =>
            {
                long roi = job / ph;
                int p = (int)(job % ph);
                long image = (long)boxes[roi * 5];
                var (y0, y1) = rows[roi * ph + p];
                for (int q = 0; q < pw; q++)
                {
                    var (x0, x1) = cols[roi * pw + q];
                    float* bin = output + ((roi * ph + p) * pw + q) * c;
                    MaxOverCells(features + image * h * w * c, bin, y0, y1, x0, x1, w, c);
                }
            }
        );
    }

    /// <summary>One bin: out[C] = the maximum over cells [y0, y1) × [x0, x1) of features[y, x, C]; 0 when
    /// empty.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static unsafe void MaxOverCells(float* image, float* bin, int y0, int y1, int x0, int x1, long w, long c)
    {
        bool empty = y1 <= y0 || x1 <= x0;
        for (long ch = 0; ch < c; ch++)
            bin[ch] = empty ? 0 : float.MinValue;
        if (empty)
            return;
        int lanes = Vector<float>.Count;
        long vectorEnd = Vector.IsHardwareAccelerated ? c - c % lanes : 0;
        for (int y = y0; y < y1; y++)
        for (int x = x0; x < x1; x++)
        {
            float* cell = image + (y * w + x) * c;
            for (long ch = 0; ch < vectorEnd; ch += lanes)
            {
                var value = Unsafe.ReadUnaligned<Vector<float>>(cell + ch);
                var max = Unsafe.ReadUnaligned<Vector<float>>(bin + ch);
                Unsafe.WriteUnaligned(bin + ch, Vector.ConditionalSelect(Vector.GreaterThan(value, max), value, max));
            }
            for (long ch = vectorEnd; ch < c; ch++)
                if (cell[ch] > bin[ch])
                    bin[ch] = cell[ch];
        }
    }

    /// <summary>
    /// Per RoI and bin along one axis, the cells [start, end) it covers, rounded exactly as
    /// <see cref="Membership"/> rounds them (the corner in double precision, the bin edges in float32).
    /// </summary>
    static (int Start, int End)[] BinEdges(double[] boxes, int lo, int hi, double scale, int bins, long size)
    {
        long k = boxes.Length / 5;
        var edges = new (int, int)[k * bins];
        for (long i = 0; i < k; i++)
        {
            double start = RoundHalfAwayFromZero(boxes[i * 5 + lo] * scale);
            double end = RoundHalfAwayFromZero(boxes[i * 5 + hi] * scale);
            float binSize = (float)Math.Max(end - start + 1, 1) / bins;
            float offset = (float)start;
            for (int p = 0; p < bins; p++)
            {
                float first = MathF.Floor(p * binSize) + offset;
                float last = MathF.Ceiling((p + 1) * binSize) + offset;
                edges[i * bins + p] = ((int)Math.Clamp(first, 0, size), (int)Math.Clamp(last, 0, size));
            }
        }
        return edges;
    }

    /// <summary>The reference's rounding, operation for operation (Math.Round differs just below halves).</summary>
    static double RoundHalfAwayFromZero(double x) => Math.Sign(x) * Math.Floor(Math.Abs(x) + 0.5);

    static unsafe float* Pointer(Tensor t)
    {
        fixed (byte* p = t.bytes)
            return (float*)p; // native memory: the address stays valid while t lives
    }

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
