using System.Diagnostics;
using MaskRcnn.Config;
using static TorchSharp.torch;

namespace MaskRcnn.Profiling;

/// <summary>One matrix-product shape: [M, K] × [K, N], what it stands for in the model.</summary>
public sealed record GemmShape(string Name, long M, long K, long N)
{
    /// <summary>2·M·K·N: a multiply and an add per term.</summary>
    public double Flops => 2.0 * M * K * N;
}

/// <summary>A shape's measured rate: the median seconds of one product over the samples, and its GFLOP/s.</summary>
public sealed record GemmMeasurement(GemmShape Shape, double MedianSeconds, int CallsPerSample, int Samples)
{
    public double GflopPerSecond => Shape.Flops / 1e9 / MedianSeconds;
}

/// <summary>
/// This machine's float32 matrix-product rate (libtorch's <c>mm</c>, which calls oneMKL's sgemm on the CPU, with
/// libtorch's threads), at shapes taken from a configuration: what its FLOPs would take if every product ran at that
/// rate (the FLOP floor).
/// </summary>
public static class GemmRate
{
    /// <summary>
    /// A square 1024³ product (the machine's rate on a large, regular shape) and the products a training step of
    /// <paramref name="config"/> runs most: a 3×3 convolution of the FPN's finest level (stride 4, as im2col: M = batch
    /// × positions, K = 9 × channels, N = channels), the box head's fc6 (M = the sampled RoIs, K = channels × pool²,
    /// N = representation size) and a mask-head convolution (M = a quarter of the RoIs × 14², K = 9 × channels,
    /// N = the first mask layer's width).
    /// </summary>
    /// <param name="side">the images' side in pixels after resizing</param>
    /// <param name="batch">images per step</param>
    public static IReadOnlyList<GemmShape> ShapesFor(MaskRcnnConfig config, int side, int batch)
    {
        long channels = config.FpnOutChannels;
        long finest = (long)batch * (side / 4) * (side / 4);
        long rois = (long)batch * config.BoxBatchSizePerImage;
        long positives = Math.Max(1, rois / 4);
        return
        [
            new GemmShape("square 1024", 1024, 1024, 1024),
            new GemmShape("FPN 3x3, stride 4", Math.Max(1, finest), 9 * channels, channels),
            new GemmShape("box head fc6", rois, channels * 7 * 7, config.RepresentationSize),
            new GemmShape("mask head 3x3", positives * 14 * 14, 9 * channels, config.MaskLayers.FirstOrDefault(256)),
        ];
    }

    /// <summary>
    /// Times <c>mm</c> on random float32 matrices: one warm-up sample, then <paramref name="samples"/> samples of as
    /// many calls as fill <paramref name="secondsPerSample"/> (at least one); the median of the per-call times.
    /// </summary>
    public static GemmMeasurement Measure(GemmShape shape, int samples = 5, double secondsPerSample = 0.05)
    {
        if (samples < 1)
            throw new ArgumentException($"GEMM timing needs at least one sample, got {samples}");
        using var scope = NewDisposeScope();
        var a = randn(shape.M, shape.K);
        var b = randn(shape.K, shape.N);
        var first = Stopwatch.StartNew();
        mm(a, b).Dispose(); // warm-up: oneMKL's buffers, the pages of the result
        double once = Math.Max(first.Elapsed.TotalSeconds, 1e-6);
        int calls = (int)Math.Clamp(Math.Ceiling(secondsPerSample / once), 1, 10_000);
        var times = new List<double>();
        for (int s = 0; s < samples; s++)
        {
            var sw = Stopwatch.StartNew();
            for (int i = 0; i < calls; i++)
                mm(a, b).Dispose();
            times.Add(sw.Elapsed.TotalSeconds / calls);
        }
        return new GemmMeasurement(shape, Statistics.Median(times), calls, samples);
    }
}
