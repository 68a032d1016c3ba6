using TorchSharp;
using static TorchSharp.torch;

namespace MaskRcnn.Teaching;

/// <summary>
/// How far training moved each parameter tensor. The measure is ‖w − w₀‖ / (‖w₀‖ + ‖w‖): 0 when nothing moved, at
/// most 1 (reached when the tensor started at zero, as biases do, or ended at zero), and finite for every tensor —
/// unlike ‖Δw‖/‖w₀‖, which divides by zero for zero-initialised biases.
/// </summary>
public static class WeightChange
{
    /// <summary>One parameter tensor's change.</summary>
    /// <param name="Kind">"weight" (convolution or fully connected), "bias", or "norm" (a BatchNorm's scale or
    /// shift)</param>
    public sealed record TensorChange(
        string Name,
        string Part,
        string Kind,
        long Elements,
        double InitialNorm,
        double FinalNorm,
        double Change
    );

    /// <summary>The change of every tensor present in both state dicts, in the order of <paramref
    /// name="trained"/>.</summary>
    public static IReadOnlyList<TensorChange> Compute(
        IReadOnlyDictionary<string, Tensor> initial,
        IEnumerable<(string Name, Tensor Value)> trained
    )
    {
        var changes = new List<TensorChange>();
        foreach (var (name, value) in trained)
        {
            if (!initial.TryGetValue(name, out var start))
                continue;
            using var scope = NewDisposeScope();
            var w = value.detach().to(float64);
            var w0 = start.detach().to(float64);
            double before = w0.norm().item<double>(),
                after = w.norm().item<double>();
            double delta = (w - w0).norm().item<double>();
            double change = before + after == 0 ? 0 : delta / (before + after);
            changes.Add(
                new TensorChange(name, PartOf(name), KindOf(name, value), value.numel(), before, after, change)
            );
        }
        return changes;
    }

    /// <summary>The change measure of one tensor: ‖w − w₀‖ / (‖w₀‖ + ‖w‖), 0 when both are zero.</summary>
    public static double Of(Tensor initial, Tensor trained)
    {
        using var scope = NewDisposeScope();
        var w = trained.detach().to(float64);
        var w0 = initial.detach().to(float64);
        double sum = w0.norm().item<double>() + w.norm().item<double>();
        return sum == 0 ? 0 : (w - w0).norm().item<double>() / sum;
    }

    /// <summary>"weight", "bias" or "norm", from the name and shape (1-D scales of BatchNorm layers are
    /// "norm").</summary>
    public static string KindOf(string name, Tensor value)
    {
        bool norm = name.Contains(".bn") || name.Contains(".downsample.1.");
        if (norm)
            return "norm";
        return name.EndsWith(".bias") ? "bias" : "weight";
    }

    /// <summary>The model part a parameter belongs to: backbone stage, FPN, RPN head, box head/predictor, mask
    /// head/predictor.</summary>
    public static string PartOf(string name) =>
        name.StartsWith("backbone.body.layer") ? "backbone " + name.Split('.')[2]
        : name.StartsWith("backbone.body.") ? "backbone stem"
        : name.StartsWith("backbone.fpn") ? "FPN"
        : name.StartsWith("rpn") ? "RPN head"
        : name.Contains("box_head") ? "box head"
        : name.Contains("box_predictor") ? "box predictor"
        : name.Contains("mask_head") ? "mask head"
        : name.Contains("mask_predictor") ? "mask predictor"
        : "other";
}
