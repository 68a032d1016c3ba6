using MaskRcnn.Runtime;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace MaskRcnn.Modeling.Kernels;

/// <summary>
/// A 3×3 convolution with nn.Conv2d's keys (weight, bias), initialisation and results, computed by Winograd
/// F(4×4, 3×3) (<see cref="Winograd"/>) where that pays: on the CPU, float32, not under bfloat16 autocast, stride 1,
/// padding 1, no dilation, at least <see cref="MinChannels"/> channels in and out. Which path a call takes
/// (<see cref="PathFor"/>):
/// <list type="bullet">
/// <item>no gradient to record, ≥ <see cref="MinPositions"/> output positions: the inference path — transformed
/// filters kept between calls (4× the weights' size: ~130 MB for R50-FPN at 512×512) and recomputed when the weights
/// change (a fingerprint of their values is checked on every call). At 512×512: the mask head, the FPN's and RPN
/// head's three finest levels, ResNet's layer2–3;</item>
/// <item>a gradient to record, ≥ <see cref="MinTrainingPositions"/> and ≥ <see cref="MinTrainingChannels"/>: <see
/// cref="WinogradTraining"/> (Winograd forward and input gradient, the weight gradient as nine GEMMs; filters
/// transformed at every call). At 512×512 with two images:
/// the FPN's and RPN head's two finest levels;</item>
/// <item>otherwise the plain convolution.</item>
/// </list>
/// The thresholds are where Winograd measured faster than oneDNN's direct convolution on our CPU; what each path
/// gains is in PERFORMANCE.md (Winograd convolutions).
/// </summary>
public sealed class WinogradConv2d : Module<Tensor, Tensor>
{
    public Parameter weight;
    public Parameter? bias;
    readonly long _stride,
        _padding,
        _dilation;
    Tensor? _filter;
    bool _disposed;
    readonly object _filterLock = new();
    (IntPtr Weight, double Fingerprint) _filterOf;

    /// <summary>Below this many input or output channels the direct convolution is as fast.</summary>
    public const long MinChannels = 128;

    /// <summary>
    /// The mode a new layer starts with, set once at start-up from MASKRCNN_WINOGRAD (<see
    /// cref="RuntimeOptions.Winograd"/>): <see cref="WinogradMode.On"/> unless the process asks otherwise (0: off, e.g.
    /// to compare with the direct convolution; inference: training keeps the direct convolution).
    /// </summary>
    public static WinogradMode DefaultMode { get; } = RuntimeOptions.Winograd;

    /// <summary>
    /// Fewer output positions, or channels in or out, than these while gradients are recorded: the direct
    /// convolution. Below them Winograd's forward + backward measured no faster, so training keeps the direct
    /// convolution and its rounding there (the cpu-quick preset's 128-channel FPN trains unchanged).
    /// </summary>
    public const long MinTrainingPositions = 8192,
        MinTrainingChannels = 256;

    /// <summary>
    /// Fewer output positions (N·H·W) than this: the direct convolution (the gain is small, and the transformed
    /// filters, 4× the weights, would be kept for little): ResNet's layer4 and the FPN's and RPN's smallest levels at
    /// 512×512.
    /// </summary>
    public const long MinPositions = 1024;

    /// <summary>
    /// Whether this layer may take a Winograd path: in inference and training (<see cref="WinogradMode.On"/>), in
    /// inference only, or never (<see cref="Layers.UseWinograd"/> sets it for a whole model).
    /// </summary>
    public WinogradMode Mode { get; set; } = DefaultMode;

    /// <summary>Calls that took the inference path in this process (for tests and reports).</summary>
    public static long WinogradCalls => Interlocked.Read(ref _winogradCalls);

    /// <summary>Calls that took the training path (<see cref="WinogradTraining"/>) in this process.</summary>
    public static long WinogradTrainingCalls => Interlocked.Read(ref _winogradTrainingCalls);
    static long _winogradCalls,
        _winogradTrainingCalls;

    /// <summary>How a call computes: the plain convolution, Winograd with kept filters, or Winograd with
    /// gradients.</summary>
    public enum Path
    {
        Direct,
        Inference,
        Training,
    }

    public WinogradConv2d(
        long inChannels,
        long outChannels,
        long stride = 1,
        long padding = 1,
        long dilation = 1,
        bool hasBias = true
    )
        : base("Conv2d")
    {
        using (
            var init = Conv2d(
                inChannels,
                outChannels,
                3,
                stride: stride,
                padding: padding,
                dilation: dilation,
                bias: hasBias
            )
        )
        using (no_grad())
        {
            weight = new Parameter(init.weight!.detach().clone());
            if (hasBias)
                bias = new Parameter(init.bias!.detach().clone());
        }
        (_stride, _padding, _dilation) = (stride, padding, dilation);
        RegisterComponents();
        Interlocked.Increment(ref _liveLayers);
    }

    /// <summary>Layers made and not yet disposed: when the last one goes, so do Winograd's kept step buffers.</summary>
    static long _liveLayers;

    public long InChannels => weight.shape[1];
    public long OutChannels => weight.shape[0];

    public override Tensor forward(Tensor x)
    {
        switch (PathFor(x))
        {
            case Path.Inference:
                Interlocked.Increment(ref _winogradCalls);
                return Winograd.Convolve(x, TransformedFilter(), bias);
            case Path.Training:
                Interlocked.Increment(ref _winogradTrainingCalls);
                return WinogradTraining.Apply(x, weight, bias);
            default:
                return functional.conv2d(
                    x,
                    weight,
                    bias,
                    strides: [_stride, _stride],
                    padding: [_padding, _padding],
                    dilation: [_dilation, _dilation]
                );
        }
    }

    /// <summary>Which path this call would take (see the class summary).</summary>
    public Path PathFor(Tensor x)
    {
        if (
            !(
                Mode != WinogradMode.Off
                && _stride == 1
                && _padding == 1
                && _dilation == 1
                && x.dim() == 4
                && x.device_type == DeviceType.CPU
                && x.dtype == ScalarType.Float32
                && weight.dtype == ScalarType.Float32
                && weight.device_type == DeviceType.CPU
                && InChannels >= MinChannels
                && OutChannels >= MinChannels
                && !MaskRcnn.Runtime.Autocast.IsEnabled(DeviceType.CPU)
            )
        )
            return Path.Direct;
        long positions = x.shape[0] * x.shape[2] * x.shape[3];
        bool recordsGradient =
            is_grad_enabled() && (x.requires_grad || weight.requires_grad || (bias?.requires_grad ?? false));
        if (!recordsGradient)
            return positions >= MinPositions ? Path.Inference : Path.Direct;
        return
            Mode == WinogradMode.On
            && positions >= MinTrainingPositions
            && InChannels >= MinTrainingChannels
            && OutChannels >= MinTrainingChannels
            ? Path.Training
            : Path.Direct;
    }

    /// <summary>Whether this call would run as Winograd, with or without gradients (see the class summary).</summary>
    public bool TakesWinogradPath(Tensor x) => PathFor(x) != Path.Direct;

    /// <summary>The cached transform of the current weights, recomputed when the weight tensor or its values
    /// changed.</summary>
    Tensor TransformedFilter()
    {
        var key = (weight.Handle, Fingerprint(weight));
        // concurrent inference calls on one model share the cache (the weights do not change meanwhile)
        lock (_filterLock)
        {
            if (_filter is null || _filterOf != key)
            {
                _filter?.Dispose();
                _filter = Winograd.TransformFilter(weight).DetachFromDisposeScope();
                _filterOf = key;
            }
            return _filter;
        }
    }

    /// <summary>
    /// Σ_o p_o Σ_i q_i w[o, i] with fixed positive pseudo-random p, q, accumulated in float64: an in-place change
    /// of any weight, or weights swapped or flipped, changes it (changes below float32 rounding of a row sum aside,
    /// which move the outputs by less than the Winograd rounding itself). One pass over the weights.
    /// </summary>
    static double Fingerprint(Tensor w)
    {
        using var scope = NewDisposeScope();
        long rows = w.shape[0],
            cols = w.numel() / rows;
        var rowSums = w.detach().reshape(rows, cols).mv(Probe(cols, 1, w.dtype)).to(float64);
        return rowSums.dot(Probe(rows, 2, float64)).item<double>();
    }

    static readonly System.Collections.Concurrent.ConcurrentDictionary<(long, int, ScalarType), Tensor> Probes = new();

    /// <summary>Fixed weights in [0.5, 1.5) (CPU; kept for the process, a few KB each).</summary>
    static Tensor Probe(long length, int seed, ScalarType dtype) =>
        Probes.GetOrAdd(
            (length, seed, dtype),
            key =>
            {
                var values = new double[key.Item1];
                var random = new Random(key.Item2);
                for (long i = 0; i < values.Length; i++)
                    values[i] = 0.5 + random.NextDouble();
                return tensor(values, dtype: float64).to(key.Item3).DetachFromDisposeScope();
            }
        );

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _filter?.Dispose();
            _filter = null;
            if (!_disposed && Interlocked.Decrement(ref _liveLayers) == 0)
                Winograd.ReleaseScratch();
            _disposed = true;
        }
        base.Dispose(disposing);
    }
}
