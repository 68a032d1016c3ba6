using System.Numerics;
using System.Runtime.CompilerServices;
using TorchSharp;
using static TorchSharp.torch;

namespace MaskRcnn.Modeling.Kernels;

/// <summary>
/// <see cref="Ops.RoIPool"/>'s forward on the CPU: one pass over the cells each bin covers, read channels-last (a view
/// when the features are stored so, as the FPN's are), the channels as vectors, RoIs in parallel. Bit-identical to
/// <see cref="Ops.RoIPool.Reference"/> (RoIPoolKernelTests).
/// </summary>
public static class RoIPoolKernel
{
    /// <summary>Whether <see cref="RoIPool.Apply"/> runs this kernel: float32 on the CPU, no gradient to record.</summary>
    public static bool Applies(Tensor input) =>
        input.device_type == DeviceType.CPU
        && input.dtype == ScalarType.Float32
        && !(input.requires_grad && is_grad_enabled());

    /// <summary>
    /// The CPU kernel: for each RoI and output bin, the bin's cells [hstart, hend) × [wstart, wend) (the same
    /// rounding as <see cref="RoIPool.Reference"/>: corners rounded half away from zero in double precision, bin edges
    /// ⌊p·T⌋, ⌈(p+1)·T⌉ with T = length / bins in float32) are read once, all channels at a time, and their maximum
    /// kept with torchvision's comparison (a value replaces the maximum when it is greater; the maximum starts at
    /// float's lowest value; an empty bin is 0). Features are read channels-last (a view when they are stored so,
    /// as the FPN's are). Forward only.
    /// </summary>
    public static Tensor Pool(Tensor input, Tensor rois, (int H, int W) outputSize, double spatialScale)
    {
        long k = rois.shape[0],
            c = input.shape[1],
            h = input.shape[2],
            w = input.shape[3];
        if (input.device_type != DeviceType.CPU || input.dtype != ScalarType.Float32)
            throw new ArgumentException("RoIPoolKernel needs float32 CPU features");
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
    /// the reference rounds them (the corner in double precision, the bin edges in float32).
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
}
