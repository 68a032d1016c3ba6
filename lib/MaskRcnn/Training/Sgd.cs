using TorchSharp;
using static TorchSharp.torch;

namespace MaskRcnn.Training;

/// <summary>
/// Stochastic gradient descent with momentum and weight decay, exactly PyTorch's torch.optim.SGD (dampening 0,
/// no Nesterov): g ← ∇ + wd·θ; b ← μ·b + g (b = g at the first step); θ ← θ − lr·b. Parameters without a gradient
/// (frozen groups) are skipped. Its state is one momentum buffer per parameter name, which checkpoints save.
/// </summary>
public sealed class Sgd(
    IEnumerable<(string Name, TorchSharp.Modules.Parameter Param)> parameters,
    double momentum,
    double weightDecay
)
{
    readonly List<(string Name, TorchSharp.Modules.Parameter Param)> _params = parameters.ToList();
    readonly Dictionary<string, Tensor> _buffers = new();

    public double LearningRate { get; set; }
    public double Momentum { get; } = momentum;
    public double WeightDecay { get; } = weightDecay;

    public void ZeroGrad()
    {
        foreach (var (_, p) in _params)
            if (p.grad is not null)
            {
                p.grad.Dispose();
                p.grad = null;
            }
    }

    public void Step()
    {
        using var noGrad = no_grad();
        // Explicit Scalars, disposed after the loop: implicitly converted ones are not kept alive during the
        // native call and may be finalized under it (see BatchNorm2d).
        using var decay = WeightDecay.ToScalar();
        using var momentum = Momentum.ToScalar();
        using var one = 1.0.ToScalar();
        using var step = (-LearningRate).ToScalar();
        foreach (var (name, p) in _params)
        {
            var grad = p.grad;
            if (grad is null || !p.requires_grad)
                continue;
            using var scope = NewDisposeScope();
            var d = WeightDecay != 0 ? grad.add(p, decay) : grad;
            if (Momentum != 0)
            {
                if (_buffers.TryGetValue(name, out var buf))
                    buf.mul_(momentum).add_(d, one);
                else
                    _buffers[name] = buf = d.detach().clone().DetachFromDisposeScope();
                d = buf;
            }
            p.add_(d, step);
        }
    }

    /// <summary>Momentum buffers by parameter name (for checkpoints).</summary>
    public IReadOnlyDictionary<string, Tensor> State => _buffers;

    public void LoadState(IReadOnlyDictionary<string, Tensor> state)
    {
        var known = _params.ToDictionary(p => p.Name, p => p.Param);
        foreach (var b in _buffers.Values)
            b.Dispose();
        _buffers.Clear();
        foreach (var (name, t) in state)
        {
            if (!known.TryGetValue(name, out var p))
                throw new MaskRcnnException($"optimizer state names an unknown parameter '{name}'");
            if (!p.shape.SequenceEqual(t.shape))
                throw new MaskRcnnException(
                    $"optimizer state for '{name}' has shape [{string.Join(", ", t.shape)}], the parameter "
                        + $"[{string.Join(", ", p.shape)}]"
                );
            _buffers[name] = t.to(p.dtype, p.device).clone().DetachFromDisposeScope();
        }
    }
}
