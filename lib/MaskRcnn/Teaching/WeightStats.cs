using MaskRcnn.Modeling;
using MaskRcnn.Visualization;
using TorchSharp;
using static TorchSharp.torch;

namespace MaskRcnn.Teaching;

/// <summary>One state-dict tensor of a trained model, as matterport's display_weight_stats lists it.</summary>
public sealed record WeightRow(
    [property: Column("tensor")] string Name,
    [property: Column("kind")] string Kind,
    [property: Column("shape")] string Shape,
    [property: Column("mean", "F4")] double Mean,
    [property: Column("std", "F4")] double Std,
    [property: Column("min", "F3")] double Min,
    [property: Column("max", "F3")] double Max,
    [property: Column("std at start", "F4")] double? StdAtStart,
    [property: Column("change", "F4")] double? Change,
    [property: Column("note")] string Note
);

/// <summary>
/// matterport's weight statistics for every tensor of the state dict — trainable weights and biases, and the frozen
/// BatchNorm statistics (running mean and variance, scale and shift) that no stage trains — with the change since
/// the start of training (<see cref="WeightChange"/>) and matterport's alarm: a value beyond ±1000, or a non-finite
/// one, is flagged "overflow?".
/// </summary>
public static class WeightStats
{
    /// <summary>The largest magnitude matterport's table accepts before flagging a tensor.</summary>
    public const double OverflowMagnitude = 1000;

    public static IReadOnlyList<WeightRow> Of(MaskRCNN trained, IReadOnlyDictionary<string, Tensor> initial)
    {
        var trainable = trained.named_parameters().Where(p => p.parameter.requires_grad).Select(p => p.name);
        var changes = WeightChange
            .Compute(initial, trained.named_parameters().Select(p => (p.name, (Tensor)p.parameter)))
            .ToDictionary(c => c.Name);
        var rows = new List<WeightRow>();
        foreach (var (name, value) in trained.state_dict())
        {
            if (!value.is_floating_point())
                continue;
            using var scope = NewDisposeScope();
            var w = value.detach().to(float64);
            bool single = w.numel() < 2;
            double max = w.max().item<double>(),
                min = w.min().item<double>();
            bool finite = w.isfinite().all().item<bool>();
            bool flagged = !finite || Math.Abs(max) > OverflowMagnitude || Math.Abs(min) > OverflowMagnitude;
            bool frozen = !changes.ContainsKey(name);
            string note = (flagged, frozen) switch
            {
                (true, true) => "overflow? — a frozen BatchNorm statistic",
                (true, false) => "overflow?",
                (false, true) => "frozen statistic (BatchNorm buffer)",
                _ => "",
            };
            double? stdAtStart =
                initial.TryGetValue(name, out var w0) && w0.numel() > 1 ? w0.to(float64).std().item<double>() : null;
            rows.Add(
                new WeightRow(
                    name,
                    changes.TryGetValue(name, out var c) ? c.Kind : "buffer",
                    string.Join("×", value.shape),
                    w.mean().item<double>(),
                    single ? 0 : w.std().item<double>(),
                    min,
                    max,
                    stdAtStart,
                    c?.Change,
                    note
                )
            );
        }
        return rows;
    }

    /// <summary>Tensors, values, non-finite values, the largest magnitude and how many tensors are flagged.</summary>
    public static string Summary(MaskRCNN model, IReadOnlyList<WeightRow> rows)
    {
        long values = model.state_dict().Values.Where(t => t.is_floating_point()).Sum(t => t.numel());
        long nonFinite = model
            .state_dict()
            .Values.Where(t => t.is_floating_point())
            .Sum(t => t.isfinite().logical_not().sum().item<long>());
        double largest = rows.Max(r => Math.Max(Math.Abs(r.Min), Math.Abs(r.Max)));
        return $"{rows.Count} tensors, {values:N0} values: {nonFinite} non-finite, largest |value| {largest:F3}, "
            + $"{rows.Count(r => r.Note.StartsWith("overflow?"))} flagged 'overflow?' (|value| > {OverflowMagnitude:N0})";
    }
}
