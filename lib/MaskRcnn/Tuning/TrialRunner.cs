using System.Diagnostics;
using System.Text.Json;
using MaskRcnn.Config;
using MaskRcnn.Data;
using MaskRcnn.Modeling;
using MaskRcnn.Training;
using MaskRcnn.Weights;
using TorchSharp;

namespace MaskRcnn.Tuning;

/// <summary>How a job ended: the rung's result, or stopped part-way (cancelled or out of budget).</summary>
public sealed record JobOutcome(RungResult? Result, bool Stopped);

/// <summary>
/// Trains one trial up to the end of a rung with the ordinary <see cref="Trainer"/>: a new trial from its start point,
/// a promoted or interrupted one from its checkpoint_last (the Trainer's exact resume), stopping with a checkpoint at
/// the rung's last step. Validation runs at the rungs' epochs only. The rung's metrics are read back from the run's
/// metrics.jsonl, where the Trainer wrote them.
/// </summary>
public sealed class TrialRunner(Dataset train, Dataset val, string sweepFolder, Rungs rungs, SelectionMetric metric)
{
    /// <summary>cpu, cuda, …</summary>
    public torch.Device Device { get; init; } = torch.CPU;

    /// <summary>Every training step of the job.</summary>
    public event Action<TrainingProgress>? Step;

    public JobOutcome Run(Trial trial, int rung, CancellationToken cancel)
    {
        var clock = Stopwatch.StartNew();
        string folder = Path.Combine(sweepFolder, trial.Folder);
        var config = ConfigPaths.ToConfig(trial.Config, trial.Name);
        bool resume = File.Exists(Path.Combine(folder, "checkpoint_last.safetensors"));
        if (!resume) // never trained to the end of an epoch: start again from the start point
            foreach (var file in Trainer.RunFiles(folder))
                File.Delete(file);
        torch.manual_seed(config.Training.Seed);
        using var model = new MaskRCNN(config);
        if (!resume)
            StartPoint.Apply(model, config.Training.StartFrom);
        model.to(Device);
        int epochs = rungs.Epochs[rung];
        var trainer = new Trainer(model, train, val, folder) { ValidationDue = e => rungs.IndexOf(e) >= 0 };
        trainer.Progress += p => Step?.Invoke(p);
        var result = trainer.Run(resume, cancel, stopAfterIteration: (long)epochs * trainer.StepsPerEpoch);
        if (result.State.Iteration < (long)epochs * trainer.StepsPerEpoch)
            return new JobOutcome(null, Stopped: true);
        var row =
            ValidationRow(trainer.MetricsFile, epochs)
            ?? throw new MaskRcnnException($"{trainer.MetricsFile}: no validation at epoch {epochs}");
        var all = SelectionMetric.ReadAll(row);
        return new JobOutcome(
            new RungResult(
                rung,
                epochs,
                all[metric.Name],
                SelectionMetric.Number(row, "val_loss"),
                all,
                SelectionMetric.Number(row, "training_s") ?? 0,
                Math.Round(clock.Elapsed.TotalSeconds, 1)
            ),
            Stopped: false
        );
    }

    /// <summary>The last "val" row of metrics.jsonl for <paramref name="epoch"/> (counted from 1).</summary>
    public static JsonElement? ValidationRow(string metricsFile, int epoch)
    {
        if (!File.Exists(metricsFile))
            return null;
        JsonElement? found = null;
        foreach (var line in File.ReadLines(metricsFile))
        {
            if (line.Length == 0)
                continue;
            using var doc = JsonDocument.Parse(line);
            var row = doc.RootElement;
            if (
                row.TryGetProperty("type", out var type)
                && type.GetString() == "val"
                && row.TryGetProperty("epoch", out var e)
                && e.GetInt32() == epoch
            )
                found = row.Clone();
        }
        return found;
    }
}
