using System.Diagnostics;
using MaskRcnn.Config;
using MaskRcnn.Data;
using MaskRcnn.Modeling;
using MaskRcnn.Training;
using MaskRcnn.Visualization;
using MaskRcnn.Weights;
using static TorchSharp.torch;

namespace MaskRcnn.Teaching;

/// <summary>One recipe's run, for the comparison table: what it trains and when validation first reached 0.9 and
/// where it ended.</summary>
public sealed record RecipeSummary(
    [property: Column("recipe")] string Name,
    [property: Column("backbone")] string Arch,
    [property: Column("parameters", "N0")] long Parameters,
    [property: Column("RoIs / image")] int Rois,
    [property: Column("first val segm AP50 ≥ 0.9")] string Reached,
    [property: Column("final val segm AP50")] double? FinalAP50,
    [property: Column("final val segm AP")] double? FinalAP,
    [property: Column("final val sensitivity@0.9")] double? FinalSensitivity,
    [property: Column("training time (s)", "F0")] double TrainingSeconds
);

/// <summary>
/// Notebook 04's training: a recipe (a configuration) trained into its own run folder with a readable progress
/// line, the recipes it is compared with, and the comparison.
/// </summary>
public static class Recipes
{
    /// <summary>
    /// Trains <paramref name="config"/> into <paramref name="folder"/> (an earlier run there is replaced): the seed,
    /// a fresh model, the config's start point, then <see cref="Trainer.Run"/>. <paramref name="update"/> gets a
    /// progress line every 30 s and at the end of each epoch (with the epoch's mean loss, not one step's);
    /// <paramref name="log"/> gets the start point, each stage change and each validation.
    /// </summary>
    public static TrainingResult Train(
        MaskRcnnConfig config,
        Dataset train,
        Dataset? val,
        string folder,
        Action<string>? update = null,
        Action<string>? log = null
    )
    {
        if (Directory.Exists(folder))
        {
            log?.Invoke($"replacing the earlier run of this recipe in {folder}");
            Directory.Delete(folder, recursive: true);
        }
        manual_seed(config.Training.Seed);
        using var model = new MaskRCNN(config);
        log?.Invoke(StartPoint.Apply(model, config.Training.StartFrom));
        var trainer = new Trainer(model, train, val, folder);
        var clock = Stopwatch.StartNew();
        trainer.Progress += p =>
        {
            if (update is null || (p.Step != p.StepsPerEpoch && clock.Elapsed.TotalSeconds < 30))
                return;
            clock.Restart();
            update(ProgressLine(p));
        };
        trainer.Message += m =>
        {
            if (m.Contains("training layer group"))
                log?.Invoke(m);
        };
        double threshold = config.Training.ClinicalScoreThreshold;
        trainer.Validated += v =>
            log?.Invoke(
                $"  epoch {v.Epoch + 1}: val segm AP50 {Show(v.Report?.Segm?.AP50)}, "
                    + $"sensitivity@{threshold} {Show(v.Report?.Sensitivity)}"
            );
        return trainer.Run();
    }

    /// <summary>
    /// "epoch 3/12 [4+] step 60/60: mean loss 0.412 (this epoch) · lr 0.0171 · 1.6 img/s · ETA 11:31": the epoch's
    /// mean loss so far, because one step's loss swings with its two images (0 on a batch of normal scans).
    /// </summary>
    public static string ProgressLine(TrainingProgress p) =>
        $"epoch {p.Epoch + 1}/{p.Epochs} [{p.Stage}] step {p.Step}/{p.StepsPerEpoch}: mean loss "
        + $"{p.EpochMeanLoss:F3} (this epoch) · lr {p.LearningRate:G3} · {p.ImagesPerSecond:F1} img/s · "
        + $"ETA {p.Eta:mm\\:ss}";

    /// <summary>Recipe (b): the same start and epochs, every layer trained from the first step.</summary>
    public static MaskRcnnConfig AllLayers(MaskRcnnConfig staged) =>
        staged with
        {
            Training = staged.Training with { Stages = $"all:{Epochs(staged)}" },
        };

    /// <summary>
    /// Recipe (c): the cpu-quick model from scratch (random weights, trainable BatchNorm; its own backbone and RoI
    /// sampling) for the staged recipe's epochs, steps and warm-up.
    /// </summary>
    public static MaskRcnnConfig FromScratch(MaskRcnnConfig staged) =>
        Presets.CpuQuick() with
        {
            Training = Presets.CpuQuick().Training with
            {
                Epochs = Epochs(staged),
                StepsPerEpoch = staged.Training.StepsPerEpoch,
                ValidateEvery = staged.Training.ValidateEvery,
                WarmupIters = staged.Training.WarmupIters,
            },
        };

    /// <summary>The epochs a config's stages add up to.</summary>
    public static int Epochs(MaskRcnnConfig config) =>
        StageSchedule
            .Parse(config.Training.Stages, config.Training.Epochs, config.Training.LearningRate)
            .Sum(s => s.Epochs);

    /// <summary>Each stage of a config: epochs, learning rate, what it trains and how many parameters.</summary>
    public static Table Stages(MaskRcnnConfig config)
    {
        manual_seed(config.Training.Seed);
        using var model = new MaskRCNN(config);
        long total = model.parameters().Sum(p => p.numel());
        var stages = StageSchedule.Parse(config.Training.Stages, config.Training.Epochs, config.Training.LearningRate);
        var rows = stages.Select(s => (Stage: s, Trainable: LayerGroups.Apply(model, s.Group))).ToList();
        return Table.Of(
            rows,
            ("stage", r => r.Stage.Group),
            ("epochs", r => r.Stage.Epochs),
            ("learning rate", r => r.Stage.LearningRate),
            ("trains", r => LayerGroups.Describe(r.Stage.Group)),
            ("trainable parameters", r => r.Trainable),
            ("share", r => $"{100.0 * r.Trainable / total:F0} %")
        );
    }

    /// <summary>The parameters a layer group trains in a config's model (e.g. "heads", "3+").</summary>
    public static long GroupParameters(MaskRcnnConfig config, string group)
    {
        manual_seed(config.Training.Seed);
        using var model = new MaskRCNN(config);
        return LayerGroups.Apply(model, group);
    }

    /// <summary>The recipes' runs side by side (from their metrics.jsonl and configs).</summary>
    public static Table Compare(IEnumerable<(string Name, string Folder, MaskRcnnConfig Config)> runs) =>
        Table.From(
            runs.Select(r =>
            {
                var metrics = TrainingMetrics.Read(r.Folder);
                var first = metrics.FirstReaching(v => v.SegmAP50, 0.9);
                var last = metrics.Validations.LastOrDefault();
                string reached = first is null ? "not reached" : $"epoch {first.Epoch}, {first.TrainingSeconds:F0} s";
                return new RecipeSummary(
                    r.Name,
                    r.Config.Arch,
                    GroupParameters(r.Config, "all"),
                    r.Config.BoxBatchSizePerImage,
                    reached,
                    last?.SegmAP50,
                    last?.SegmAP,
                    last?.Sensitivity,
                    last?.TrainingSeconds ?? double.NaN
                );
            })
        );

    static string Show(double? value) => value is double v ? v.ToString("F3") : "undefined";
}

/// <summary>The losses of a run trained straight through, and of the same run stopped and resumed.</summary>
public sealed record ResumeDemonstration(double[] Straight, double[] Stopped, double[] Resumed, int StoppedAfter)
{
    /// <summary>The first step after resuming equals the same step of the uninterrupted run (to 1e-6).</summary>
    public bool Identical =>
        Resumed.Length > 0 && Straight.Length > StoppedAfter && Math.Abs(Straight[StoppedAfter] - Resumed[0]) < 1e-6;

    public override string ToString() =>
        $"uninterrupted: {Join(Straight)}\nstopped after {StoppedAfter} steps: {Join(Stopped)}\nresumed: "
        + $"{Join(Resumed)}\nstep {StoppedAfter + 1} after resuming: "
        + (Identical ? "identical to the uninterrupted run" : "DIFFERS from the uninterrupted run");

    static string Join(double[] values) => string.Join(", ", values.Select(v => v.ToString("F5")));
}

/// <summary>Checkpoints at work: a small run stopped after a few steps and resumed, against one that was not
/// stopped.</summary>
public static class Checkpoints
{
    /// <summary>Two epochs of two steps on 128-px images of <paramref name="train"/>, in a temporary folder.</summary>
    public static ResumeDemonstration StopAndResume(Dataset train, int stopAfter = 3)
    {
        var small = Presets.CpuQuick() with
        {
            MinSize = [128],
            MaxSize = 128,
            Training = Presets.CpuQuick().Training with
            {
                Epochs = 2,
                StepsPerEpoch = 2,
                ValidateEvery = 0,
                WarmupIters = 2,
            },
        };
        string folder = Path.Combine(Path.GetTempPath(), $"resume-demo-{Guid.NewGuid():N}");
        try
        {
            var straight = Losses(small, train, folder, resume: false, stopAfter: null, seed: small.Training.Seed);
            Directory.Delete(folder, recursive: true);
            var stopped = Losses(small, train, folder, resume: false, stopAfter, small.Training.Seed);
            // another seed for the fresh model: resuming must restore the weights and the random state itself
            var resumed = Losses(small, train, folder, resume: true, stopAfter: null, seed: 999);
            return new ResumeDemonstration(straight, stopped, resumed, stopAfter);
        }
        finally
        {
            if (Directory.Exists(folder))
                Directory.Delete(folder, recursive: true);
        }
    }

    static double[] Losses(MaskRcnnConfig config, Dataset train, string folder, bool resume, long? stopAfter, int seed)
    {
        manual_seed(seed);
        using var model = new MaskRCNN(config);
        var trainer = new Trainer(model, train.Take(8), null, folder);
        var losses = new List<double>();
        trainer.Progress += p => losses.Add(p.Loss);
        trainer.Run(resume, stopAfterIteration: stopAfter);
        return losses.ToArray();
    }
}
