using System.Globalization;
using System.Text.Json.Nodes;

namespace MaskRcnn.Tuning;

/// <summary>
/// A trial's training schedule spans the last rung (max_epochs): its learning-rate schedule (warm-up, cosine or step
/// decay) and its stages are laid over those epochs, and a lower rung stops it part-way, with a checkpoint. Promotion
/// then resumes the run where it stopped, so a promoted trial is exactly the run it would have been had it trained to
/// the higher rung in one go (the price: at a low rung a trial is measured before its learning rate has decayed).
/// </summary>
public static class TrialSchedule
{
    /// <summary>
    /// Sets training.epochs to <paramref name="epochs"/> and scales training.stages to add up to it, keeping each
    /// stage's share (largest remainders, at least one epoch a stage) and its "@LR".
    /// </summary>
    public static void Apply(JsonObject config, int epochs)
    {
        var training = config["training"]!.AsObject();
        training["epochs"] = epochs;
        if (training["stages"]?.GetValue<string>() is string stages && !string.IsNullOrWhiteSpace(stages))
            training["stages"] = ScaleStages(stages, epochs);
    }

    /// <summary>"heads:2,4+:4,all:6" over 8 epochs → "heads:1,4+:3,all:4".</summary>
    public static string ScaleStages(string stages, int epochs)
    {
        var parts = stages.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var parsed = parts.Select(Parse).ToList();
        if (parsed.Count > epochs)
            throw new MaskRcnnException(
                $"training.stages: '{stages}' has {parsed.Count} stages, more than the {epochs} epochs of the last rung"
            );
        int total = parsed.Sum(p => p.Epochs);
        var exact = parsed.Select(p => (double)p.Epochs * epochs / total).ToList();
        var scaled = exact.Select(x => Math.Max(1, (int)Math.Floor(x))).ToArray();
        // Largest remainders get the epochs left over; stages above one epoch give back what the minimum took.
        foreach (int i in Enumerable.Range(0, scaled.Length).OrderByDescending(i => exact[i] - Math.Floor(exact[i])))
            if (scaled.Sum() < epochs)
                scaled[i]++;
        while (scaled.Sum() > epochs)
            scaled[Array.IndexOf(scaled, scaled.Max())]--;
        return string.Join(",", parsed.Select((p, i) => $"{p.Group}:{scaled[i]}{p.Rate}"));
    }

    static (string Group, int Epochs, string Rate) Parse(string part)
    {
        int colon = part.LastIndexOf(':');
        string rest = colon > 0 ? part[(colon + 1)..] : "";
        int at = rest.IndexOf('@');
        string count = at >= 0 ? rest[..at] : rest;
        if (colon <= 0 || !int.TryParse(count, NumberStyles.Integer, CultureInfo.InvariantCulture, out int e) || e < 1)
            throw new MaskRcnnException($"training.stages: '{part}' is not GROUP:EPOCHS[@LR] (e.g. heads:10)");
        return (part[..colon], e, at >= 0 ? rest[at..] : "");
    }
}
