using System.Globalization;
using MaskRcnn.Training;

namespace MaskRcnn.Tuning;

/// <summary>
/// One report of a running sweep. <see cref="Kind"/>: "message" (data, resumed trials, the end), "job" (a trial starts
/// training toward a rung), "step" (a training step of that job), "result" (the rung's validation), "failed",
/// "stopped" (cut part-way by the budget or a cancel, with a checkpoint). <see cref="ToString"/> is the progress line
/// <c>maskrcnn sweep</c> prints.
/// </summary>
public sealed record SweepProgress(
    string Kind,
    Trial? Trial,
    int Rung,
    IReadOnlyList<int> Rungs,
    TrainingProgress? Step,
    Trial? Best,
    SelectionMetric Metric,
    TimeSpan Elapsed,
    TimeSpan Budget,
    string Message = ""
)
{
    /// <summary>Budget left (the sweep ends by then at the latest).</summary>
    public TimeSpan Left => Budget > Elapsed ? Budget - Elapsed : TimeSpan.Zero;

    public override string ToString()
    {
        if (Kind == "message" || Trial is null)
            return Message;
        string where = $"{Trial.Name} rung {Rung + 1}/{Rungs.Count} ({Rungs[Rung]} epochs)";
        string best = Best?.Metric is double b
            ? $"best {Metric.Title} {b:F3} ({Best.Name}, {Best.Epochs} epochs)"
            : "best: none yet";
        string clock = $"{Minutes(Elapsed)} of {Minutes(Budget)}";
        return Kind switch
        {
            "job" => $"{where}: {Message} · {best} · {clock}",
            "step" when Step is { } p => $"{where} · epoch {p.Epoch + 1} step {p.Step}/{p.StepsPerEpoch} · loss "
                + $"{p.Loss:F3} · {best} · {clock} · ETA trial {Minutes(Until(p))}, sweep ≤ {Minutes(Left)}",
            "result" => $"{where}: {Metric.Title} {Value(Trial.Results[^1].Metric)}, training "
                + $"{Trial.Results[^1].TrainingSeconds:F0} s · {best} · {clock}",
            "failed" => $"{where}: failed: {Trial.Error}",
            "stopped" => $"{where}: stopped part-way ({Message}); --resume continues it",
            _ => Message,
        };
    }

    /// <summary>The time the job needs to reach its rung, at its pace so far.</summary>
    TimeSpan Until(TrainingProgress p)
    {
        long total = (long)Rungs[Rung] * p.StepsPerEpoch;
        long done = (long)p.Epoch * p.StepsPerEpoch + p.Step;
        double perStep = p.TotalIterations > p.Iteration ? p.Eta.TotalSeconds / (p.TotalIterations - p.Iteration) : 0;
        return TimeSpan.FromSeconds(Math.Max(0, total - done) * perStep);
    }

    static string Value(double? v) => v is double d ? d.ToString("F3", CultureInfo.InvariantCulture) : "undefined";

    static string Minutes(TimeSpan t) => $"{(int)t.TotalMinutes:D2}:{t.Seconds:D2}";
}
