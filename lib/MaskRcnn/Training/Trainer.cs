using System.Diagnostics;
using System.Text.Json;
using MaskRcnn.Config;
using MaskRcnn.Data;
using MaskRcnn.Data.Phantoms;
using MaskRcnn.Evaluation;
using MaskRcnn.Modeling;
using MaskRcnn.Modeling.RoiHeads;
using MaskRcnn.Modeling.Transform;
using MaskRcnn.Runtime;
using MaskRcnn.Weights;
using TorchSharp;
using static TorchSharp.torch;

namespace MaskRcnn.Training;

/// <summary>One progress report, after every step.</summary>
public sealed record TrainingProgress(int Epoch, int Epochs, int Step, int StepsPerEpoch, long Iteration, long TotalIterations,
    string Stage, IReadOnlyDictionary<string, double> Losses, double Loss, double LearningRate, double ImagesPerSecond,
    TimeSpan Elapsed, TimeSpan Eta);

/// <summary>End-of-epoch validation: loss on the val split and its COCO/clinical report.</summary>
public sealed record ValidationResult(int Epoch, double? Loss, EvaluationReport? Report);

public sealed record TrainingResult(string RunDir, TrainingState State, IReadOnlyList<ValidationResult> Validations,
                                    string? FinalModel, bool Stopped);

/// <summary>A run stopped because losses stayed non-finite; names the loss and the last good checkpoint.</summary>
public sealed class TrainingDivergedException(string message) : MaskRcnnException(message);

/// <summary>
/// Trains a model on a dataset with SGD + momentum + weight decay, linear warm-up, a step or cosine schedule,
/// gradient clipping, matterport-style stages of layer groups, end-of-epoch validation, checkpoints every
/// epoch (atomic; last and best), exact resume, non-finite-loss protection, and progress events, metrics.jsonl
/// and TensorBoard events (scalars; weight histograms and prediction images at every validation) in the run folder.
/// </summary>
public sealed class Trainer(MaskRCNN model, Dataset train, Dataset? val, string runDir)
{
    public MaskRCNN Model { get; } = model;
    public string RunDir { get; } = runDir;
    public TrainingSettings Settings => Model.Config.Training;

    public event Action<TrainingProgress>? Progress;
    public event Action<ValidationResult>? Validated;
    public event Action<string>? Message;

    /// <summary>Optional change to the loss dictionary before summing (extra losses, re-weighting).</summary>
    public Func<Dictionary<string, Tensor>, Dictionary<string, Tensor>>? LossTransform { get; set; }

    public string LastCheckpoint => Path.Combine(RunDir, "checkpoint_last.safetensors");
    public string BestCheckpoint => Path.Combine(RunDir, "checkpoint_best.safetensors");
    public string FinalModel => Path.Combine(RunDir, "model_final.safetensors");
    public string MetricsFile => Path.Combine(RunDir, "metrics.jsonl");

    public int StepsPerEpoch => Settings.StepsPerEpoch > 0 ? Settings.StepsPerEpoch : Math.Max(1, train.Count / Settings.ImagesPerBatch);

    /// <param name="resume">continue from checkpoint_last.safetensors in the run folder</param>
    /// <param name="cancel">stops after the current step, saving checkpoint_last at that step</param>
    /// <param name="stopAfterIteration">stop (and checkpoint) once this many iterations are done</param>
    public TrainingResult Run(bool resume = false, CancellationToken cancel = default, long? stopAfterIteration = null)
    {
        if (train.Count == 0) throw new MaskRcnnException($"training set '{train.Name}' has no usable images");
        var s = Settings;
        var stages = StageSchedule.Parse(s.Stages, s.Epochs, s.LearningRate);
        int epochs = stages.Sum(x => x.Epochs), steps = StepsPerEpoch;
        long total = (long)epochs * steps;
        // A resume that cannot happen leaves the folder as it was: no folder, config.json or metrics created.
        if (resume && !Directory.Exists(RunDir))
            throw new MaskRcnnException($"cannot resume: run folder {RunDir} does not exist");
        if (resume && !File.Exists(LastCheckpoint))
            throw new MaskRcnnException($"cannot resume: {LastCheckpoint} does not exist");
        CheckImageSizes(train);
        if (val is not null) CheckImageSizes(val);
        Directory.CreateDirectory(RunDir);
        foreach (var (name, bytes) in RemoveStaleTemporaries())
            Message?.Invoke($"removed {name} ({bytes / 1e6:F1} MB), left by a checkpoint write that was interrupted");
        File.WriteAllText(Path.Combine(RunDir, "config.json"), Model.Config.ToJson());

        using var heap = MemoryRelease.KeepLargeBlocksInHeap();   // in a tuned process: steps reuse each other's pages
        var optimizer = new Sgd(Model.named_parameters(), s.Momentum, s.WeightDecay);
        var state = new TrainingState(0, 0, 0, null, null);
        if (resume)
        {
            var c = Checkpoint.Read(LastCheckpoint);
            StateDicts.Load(Model, c.Model, strict: true, sourceName: LastCheckpoint);
            optimizer.LoadState(c.Optimizer);
            if (c.RngState is not null) torch.set_rng_state(c.RngState);
            state = c.State ?? state;
            Message?.Invoke($"resumed from {LastCheckpoint}: epoch {state.Epoch + 1}, step {state.StepInEpoch}, iteration {state.Iteration}");
            int dropped = TruncateMetrics(state.Iteration);
            if (dropped > 0)
                Message?.Invoke($"{MetricsFile}: removed {dropped} rows written after that checkpoint " +
                                $"(iteration {state.Iteration}); they are logged again");
            if (state.Finished) return new TrainingResult(RunDir, state, [], File.Exists(FinalModel) ? FinalModel : null, false);
        }
        else
        {
            torch.manual_seed(s.Seed);
            if (File.Exists(MetricsFile)) File.Delete(MetricsFile);
        }

        var tensorboard = new TensorBoardLog(RunDir);
        var validations = new List<ValidationResult>();
        var clock = Stopwatch.StartNew();
        var validating = new Stopwatch();      // validation time, left out of the training time that recipes are compared by
        long iterationsThisRun = 0;
        var augmenter = s.Augment ? new Augmenter() : null;
        string? currentGroup = null;
        int consecutiveNonFinite = state.ConsecutiveNonFinite;

        for (int epoch = state.Epoch; epoch < epochs; epoch++)
        {
            var stage = StageOf(stages, epoch);
            if (stage.Group != currentGroup)
            {
                long n = LayerGroups.Apply(Model, stage.Group);
                currentGroup = stage.Group;
                Message?.Invoke($"epoch {epoch + 1}: training layer group '{stage.Group}' ({n:N0} parameters) at learning rate {stage.LearningRate}");
            }
            Model.train();
            LayerGroups.FreezeBatchNormOutside(Model, stage.Group);
            var order = train.Order(epoch, s.Seed);
            int firstStep = epoch == state.Epoch ? state.StepInEpoch : 0;
            for (int step = firstStep; step < steps; step++)
            {
                if (cancel.IsCancellationRequested || (stopAfterIteration is long stop && state.Iteration >= stop))
                {
                    state = state with { Epoch = epoch, StepInEpoch = step, ConsecutiveNonFinite = consecutiveNonFinite };
                    Checkpoint.Save(LastCheckpoint, Model, optimizer, state);
                    Message?.Invoke($"stopped at epoch {epoch + 1}, step {step}; checkpoint {LastCheckpoint} (resume with --resume)");
                    return new TrainingResult(RunDir, state, validations, null, true);
                }
                optimizer.LearningRate = LearningRate(stage.LearningRate, state.Iteration, total);
                var losses = TrainStep(optimizer, order, epoch, step, augmenter, out bool finite);
                if (!finite)
                {
                    consecutiveNonFinite++;
                    string bad = string.Join(", ", losses.Where(kv => !double.IsFinite(kv.Value)).Select(kv => $"{kv.Key} = {kv.Value}"));
                    Message?.Invoke($"iteration {state.Iteration + 1}: non-finite loss ({bad}); step skipped");
                    if (consecutiveNonFinite >= s.MaxNonFiniteSteps)
                        throw new TrainingDivergedException($"training stopped after {consecutiveNonFinite} consecutive non-finite losses ({bad}) at epoch {epoch + 1}, step {step + 1}; " +
                            $"last good checkpoint: {(File.Exists(LastCheckpoint) ? LastCheckpoint : "none (no epoch finished)")}. Lower the learning rate or check the data.");
                }
                else consecutiveNonFinite = 0;
                state = state with { Iteration = state.Iteration + 1, StepInEpoch = step + 1, ConsecutiveNonFinite = consecutiveNonFinite };
                iterationsThisRun++;

                double seconds = clock.Elapsed.TotalSeconds;
                double perIteration = seconds / iterationsThisRun;
                var progress = new TrainingProgress(epoch, epochs, step + 1, steps, state.Iteration, total, stage.Group, losses,
                    losses.Values.Where(double.IsFinite).Sum(), optimizer.LearningRate, iterationsThisRun * s.ImagesPerBatch / Math.Max(1e-9, seconds),
                    clock.Elapsed, TimeSpan.FromSeconds(perIteration * (total - state.Iteration)));
                Progress?.Invoke(progress);
                if (state.Iteration % s.LogEvery == 0 || step + 1 == steps) Log(progress, tensorboard);
            }

            // End of epoch: validate, checkpoint (last, best).
            state = state with { Epoch = epoch + 1, StepInEpoch = 0 };
            if (val is not null && val.Count > 0 && s.ValidateEvery > 0 && ((epoch + 1) % s.ValidateEvery == 0 || epoch + 1 == epochs))
            {
                validating.Start();
                var v = Validate(epoch);
                tensorboard.WeightHistograms(state.Iteration, Model);
                tensorboard.Predictions(state.Iteration, Model, val);
                validating.Stop();
                validations.Add(v);
                LogValidation(v, state.Iteration, clock.Elapsed, clock.Elapsed - validating.Elapsed, tensorboard);
                Validated?.Invoke(v);
                double? metric = v.Report?.Segm?.AP ?? v.Report?.Bbox.AP;
                if (metric is double m && (state.BestMetric is null || m > state.BestMetric))
                {
                    state = state with { BestMetric = m, BestMetricName = v.Report?.Segm is not null ? "val segm AP" : "val bbox AP" };
                    Checkpoint.Save(BestCheckpoint, Model, optimizer, state);
                    Message?.Invoke($"epoch {epoch + 1}: new best {state.BestMetricName} = {m:F4} → {BestCheckpoint}");
                }
            }
            Checkpoint.Save(LastCheckpoint, Model, optimizer, state with { Finished = epoch + 1 == epochs });
            MemoryRelease.AfterTrainingEpoch();
            LogEpoch(epoch, state.Iteration, clock.Elapsed, clock.Elapsed - validating.Elapsed);
        }

        Checkpoint.Save(FinalModel, Model, optimizer: null, state: state with { Finished = true }, includeRng: false);
        Message?.Invoke($"finished {epochs} epochs ({state.Iteration} iterations) in {clock.Elapsed:hh\\:mm\\:ss}; model: {FinalModel}");
        return new TrainingResult(RunDir, state with { Finished = true }, validations, FinalModel, false);
    }

    /// <summary>
    /// The files a training run writes into its folder (config, metrics, checkpoints, final model, TensorBoard
    /// events, the data report, interrupted checkpoint writes): what <c>train --overwrite</c> replaces and what
    /// makes a folder "hold a run". Other files (an evaluation's JSON, notes) are not the run's.
    /// </summary>
    public static IReadOnlyList<string> RunFiles(string runDir)
    {
        if (!Directory.Exists(runDir)) return [];
        return Directory.EnumerateFiles(runDir).Where(f => IsRunFile(System.IO.Path.GetFileName(f)))
            .Order(StringComparer.Ordinal).ToList();
    }

    static bool IsRunFile(string name) =>
        name is "config.json" or "metrics.jsonl" or DataProblemsFile or "model_final.safetensors"
        || name.StartsWith("checkpoint_", StringComparison.Ordinal) && name.EndsWith(".safetensors")
        || name.StartsWith("events.out.tfevents.", StringComparison.Ordinal)
        || IsCheckpointTemporary(name);

    /// <summary>The skipped data of a run, as <c>train</c> writes it into the run folder.</summary>
    public const string DataProblemsFile = "data_problems.json";

    /// <summary>
    /// A temporary that a checkpoint write leaves when the process is killed before its rename
    /// (<see cref="SafetensorsFile.Write"/>: PATH.PID.tmp), or a metrics rewrite's.
    /// </summary>
    static bool IsCheckpointTemporary(string name) =>
        name == "metrics.jsonl.tmp"
        || System.Text.RegularExpressions.Regex.IsMatch(name, @"^(checkpoint_\w+|model_final)\.safetensors\.\d+\.tmp$");

    /// <summary>
    /// Deletes the temporaries of interrupted checkpoint writes in the run folder (up to a checkpoint's size each:
    /// 130 MB for R50-FPN) and returns their names and sizes. Run by <see cref="Run"/> on every start and resume.
    /// </summary>
    public IReadOnlyList<(string Name, long Bytes)> RemoveStaleTemporaries()
    {
        var removed = new List<(string, long)>();
        if (!Directory.Exists(RunDir)) return removed;
        foreach (var file in Directory.EnumerateFiles(RunDir, "*.tmp").Order(StringComparer.Ordinal).ToList())
        {
            string name = System.IO.Path.GetFileName(file);
            if (!IsCheckpointTemporary(name)) continue;
            long bytes = new FileInfo(file).Length;
            File.Delete(file);
            removed.Add((name, bytes));
        }
        return removed;
    }

    /// <summary>
    /// Drops the metrics.jsonl rows of iterations after the checkpoint a run resumes from (and a last row cut short
    /// by a kill): the resumed run logs those iterations again, so they would otherwise appear twice. Returns how
    /// many rows were dropped; the file is replaced atomically.
    /// </summary>
    int TruncateMetrics(long iteration)
    {
        if (!File.Exists(MetricsFile)) return 0;
        var kept = new List<string>();
        int dropped = 0;
        foreach (var line in File.ReadLines(MetricsFile))
        {
            if (line.Length == 0) continue;
            long? at = null;
            try
            {
                using var row = JsonDocument.Parse(line);
                if (row.RootElement.TryGetProperty("iteration", out var v) && v.TryGetInt64(out long i)) at = i;
            }
            catch (JsonException) { dropped++; continue; }
            if (at > iteration) { dropped++; continue; }
            kept.Add(line);
        }
        if (dropped == 0) return 0;
        string tmp = MetricsFile + ".tmp";
        File.WriteAllLines(tmp, kept);
        File.Move(tmp, MetricsFile, overwrite: true);
        return dropped;
    }

    /// <summary>
    /// Every image must survive the model's resize (<see cref="GeneralizedRCNNTransform.SizeProblem"/>): one that
    /// does not is an error naming it here, before training, rather than libtorch's error in the middle of an epoch.
    /// </summary>
    void CheckImageSizes(Dataset data)
    {
        foreach (var image in data.Images)
            if (Model.Transform.SizeProblem(image.Height, image.Width, training: true) is string problem)
                throw new MaskRcnnException($"{image.Path}: {problem}");
    }

    static Stage StageOf(IReadOnlyList<Stage> stages, int epoch)
    {
        int e = epoch;
        foreach (var st in stages) { if (e < st.Epochs) return st; e -= st.Epochs; }
        return stages[^1];
    }

    /// <summary>The learning rate at an iteration: stage rate × warm-up × (cosine | step decay).</summary>
    public double LearningRate(double baseRate, long iteration, long total)
    {
        var s = Settings;
        double warm = iteration < s.WarmupIters
            ? s.WarmupFactor + (1 - s.WarmupFactor) * iteration / Math.Max(1, s.WarmupIters)
            : 1.0;
        double progress = total > 0 ? (double)iteration / total : 0;
        double decay = s.Schedule == "cosine"
            ? 0.5 * (1 + Math.Cos(Math.PI * Math.Min(1, progress)))
            : Math.Pow(s.Gamma, s.StepMilestones.Count(m => progress >= m));
        return baseRate * warm * decay;
    }

    Dictionary<string, double> TrainStep(Sgd optimizer, int[] order, int epoch, int step, Augmenter? augmenter, out bool finite)
    {
        using var gcPause = GcPause.Enter();
        using var scope = NewDisposeScope();
        var s = Settings;
        var images = new List<Tensor>();
        var targets = new List<TargetTensors>();
        for (int j = 0; j < s.ImagesPerBatch; j++)
        {
            int index = order[(step * s.ImagesPerBatch + j) % order.Length];
            int seed = (int)(SplitMix.Derive((ulong)s.Seed, (ulong)epoch, (ulong)step, (ulong)j) & int.MaxValue);
            var sample = train.Load(index, augmenter, seed);
            images.Add(sample.Image);
            targets.Add(new TargetTensors(sample.Boxes, sample.Labels, sample.Masks));
        }
        optimizer.ZeroGrad();
        Dictionary<string, Tensor> losses;
        using (Model.PrecisionScope(s.ComputePrecision)) losses = Model.Losses(images, targets);   // backward outside autocast
        if (LossTransform is not null) losses = LossTransform(losses);
        var values = losses.ToDictionary(kv => kv.Key, kv => (double)kv.Value.item<float>());
        finite = values.Values.All(double.IsFinite);
        if (!finite) return values;
        var total = losses.Values.Aggregate((a, b) => a + b);
        Model.Backward(total);
        var trainable = Model.parameters().Where(p => p.requires_grad && p.grad is not null).ToList();
        if (s.GradClipNorm > 0 && trainable.Count > 0) nn.utils.clip_grad_norm_(trainable, s.GradClipNorm);
        optimizer.Step();
        optimizer.ZeroGrad();
        return values;
    }

    /// <summary>Validation loss (training-mode losses, BatchNorm statistics untouched, no gradients) and the COCO/clinical report.</summary>
    ValidationResult Validate(int epoch)
    {
        double? loss = null;
        using (var noGrad = no_grad())
        {
            Model.train();
            LayerGroups.FreezeBatchNormOutside(Model, "none");
            var totals = new List<double>();
            for (int i = 0; i + 1 <= val!.Count; i += Settings.ImagesPerBatch)
            {
                using var gcPause = GcPause.Enter();
                using var scope = NewDisposeScope();
                var batch = Enumerable.Range(i, Math.Min(Settings.ImagesPerBatch, val.Count - i)).Select(k => val.Load(k)).ToList();
                using var precision = Model.PrecisionScope(Settings.ComputePrecision);
                var losses = Model.Losses(batch.Select(b => b.Image).ToList(), batch.Select(b => new TargetTensors(b.Boxes, b.Labels, b.Masks)).ToList());
                totals.Add(losses.Values.Sum(v => (double)v.item<float>()));
            }
            loss = totals.Count > 0 ? totals.Average() : null;
        }
        Model.eval();
        var report = DatasetEvaluation.Evaluate(Model, val!, Settings.ClinicalScoreThreshold);
        Model.train();
        return new ValidationResult(epoch, loss, report);
    }

    /// <summary>metrics.jsonl: NaN and ∞ written as "NaN"/"Infinity" strings rather than failing.</summary>
    static readonly JsonSerializerOptions MetricsJson = new() { NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals };

    void AppendMetrics(object line) => File.AppendAllText(MetricsFile, JsonSerializer.Serialize(line, MetricsJson) + "\n");

    void Log(TrainingProgress p, TensorBoardLog tb)
    {
        var line = new Dictionary<string, object>
        {
            ["type"] = "train", ["epoch"] = p.Epoch + 1, ["step"] = p.Step, ["iteration"] = p.Iteration, ["stage"] = p.Stage,
            ["lr"] = p.LearningRate, ["loss"] = p.Loss, ["losses"] = p.Losses, ["images_per_s"] = Math.Round(p.ImagesPerSecond, 3),
            ["elapsed_s"] = Math.Round(p.Elapsed.TotalSeconds, 1), ["rss_mb"] = Math.Round(Environment.WorkingSet / 1e6, 1),
        };
        AppendMetrics(line);
        tb.Scalars(p.Iteration, p.Losses.Select(kv => ($"train/{kv.Key}", kv.Value))
            .Append(("train/loss", p.Loss)).Append(("train/lr", p.LearningRate)));
    }

    /// <summary>One "epoch" line per epoch in metrics.jsonl: resident memory after the epoch's memory is released.</summary>
    void LogEpoch(int epoch, long iteration, TimeSpan elapsed, TimeSpan training)
    {
        var line = new Dictionary<string, object>
        {
            ["type"] = "epoch", ["epoch"] = epoch + 1, ["iteration"] = iteration, ["elapsed_s"] = Math.Round(elapsed.TotalSeconds, 1),
            ["training_s"] = Math.Round(training.TotalSeconds, 1),
            ["rss_mb"] = Math.Round(Environment.WorkingSet / 1e6, 1), ["managed_mb"] = Math.Round(GC.GetTotalMemory(false) / 1e6, 1),
        };
        AppendMetrics(line);
    }

    /// <param name="elapsed">wall time of this run so far</param>
    /// <param name="training">the same without validation: the time training itself took</param>
    void LogValidation(ValidationResult v, long iteration, TimeSpan elapsed, TimeSpan training, TensorBoardLog tb)
    {
        var line = new Dictionary<string, object?>
        {
            ["type"] = "val", ["epoch"] = v.Epoch + 1, ["iteration"] = iteration, ["val_loss"] = v.Loss,
            ["elapsed_s"] = Math.Round(elapsed.TotalSeconds, 1), ["training_s"] = Math.Round(training.TotalSeconds, 1),
        };
        var scalars = new List<(string, double)>();
        if (v.Loss is double l) scalars.Add(("val/loss", l));
        if (v.Report is { } r)
        {
            line["bbox"] = r.Bbox; line["segm"] = r.Segm; line["per_class"] = r.PerClass;
            line["dice"] = r.Dice; line["sensitivity"] = r.Sensitivity; line["fp_per_image"] = r.FpPerImage;
            line["image_classification_accuracy"] = r.ImageClassificationAccuracy;
            scalars.AddRange([("val/bbox_AP", r.Bbox.AP), ("val/bbox_AP50", r.Bbox.AP50), ("val/dice", r.Dice), ("val/sensitivity", r.Sensitivity)]);
            if (r.Segm is { } sg) scalars.AddRange([("val/segm_AP", sg.AP), ("val/segm_AP50", sg.AP50)]);
        }
        AppendMetrics(line);
        tb.Scalars(iteration, scalars);
    }
}
