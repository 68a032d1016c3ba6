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
public sealed record TrainingProgress(
    int Epoch,
    int Epochs,
    int Step,
    int StepsPerEpoch,
    long Iteration,
    long TotalIterations,
    string Stage,
    IReadOnlyDictionary<string, double> Losses,
    double Loss,
    double LearningRate,
    double ImagesPerSecond,
    TimeSpan Elapsed,
    TimeSpan Eta
);

/// <summary>End-of-epoch validation: loss on the val split and its COCO/clinical report.</summary>
public sealed record ValidationResult(int Epoch, double? Loss, EvaluationReport? Report);

public sealed record TrainingResult(
    string RunDir,
    TrainingState State,
    IReadOnlyList<ValidationResult> Validations,
    string? FinalModel,
    bool Stopped
);

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

    /// <summary>
    /// Which epochs (counted from 1) end with a validation, instead of training.validate_every and the last epoch: a
    /// sweep validates at its rungs only.
    /// </summary>
    public Func<int, bool>? ValidationDue { get; set; }

    /// <summary>Optional change to the loss dictionary before summing (extra losses, re-weighting).</summary>
    public Func<Dictionary<string, Tensor>, Dictionary<string, Tensor>>? LossTransform { get; set; }

    public string LastCheckpoint => Path.Combine(RunDir, "checkpoint_last.safetensors");
    public string BestCheckpoint => Path.Combine(RunDir, "checkpoint_best.safetensors");
    public string FinalModel => Path.Combine(RunDir, "model_final.safetensors");
    public string MetricsFile => Path.Combine(RunDir, "metrics.jsonl");

    public int StepsPerEpoch =>
        Settings.StepsPerEpoch > 0 ? Settings.StepsPerEpoch : Math.Max(1, train.Count / Settings.ImagesPerBatch);

    /// <param name="resume">continue from checkpoint_last.safetensors in the run folder</param>
    /// <param name="cancel">stops after the current step, saving checkpoint_last at that step</param>
    /// <param name="stopAfterIteration">stop (and checkpoint) once this many iterations are done</param>
    public TrainingResult Run(bool resume = false, CancellationToken cancel = default, long? stopAfterIteration = null)
    {
        var stages = PrepareRunFolder(resume);
        using var heap = MemoryRelease.KeepLargeBlocksInHeap(); // in a tuned process: steps reuse each other's pages
        var optimizer = new Sgd(Model.named_parameters(), Settings.Momentum, Settings.WeightDecay);
        var state = resume ? Resume(optimizer) : StartAfresh();
        if (state.Finished)
            return new TrainingResult(RunDir, state, [], File.Exists(FinalModel) ? FinalModel : null, false);

        var run = new RunProgress(
            stages,
            StepsPerEpoch,
            optimizer,
            state,
            new TensorBoardLog(RunDir),
            Settings.Augment ? AugmenterOf(Settings.Augmentation) : null
        );
        for (int epoch = run.State.Epoch; epoch < run.Epochs; epoch++)
        {
            if (!TrainEpoch(run, epoch, cancel, stopAfterIteration))
                return new TrainingResult(RunDir, run.State, run.Validations, null, true);
            EndEpoch(run, epoch);
        }

        var final = run.State with { Finished = true };
        Checkpoint.Save(FinalModel, Model, optimizer: null, state: final, includeRng: false);
        Message?.Invoke(
            $"finished {run.Epochs} epochs ({final.Iteration} iterations) in {run.Clock.Elapsed:hh\\:mm\\:ss}; "
                + $"model: {FinalModel}"
        );
        return new TrainingResult(RunDir, final, run.Validations, FinalModel, false);
    }

    static Augmenter AugmenterOf(AugmentationSettings a) =>
        new(a.FlipProbability, a.MinScale, a.MaxScale, a.Brightness, a.MinContrast, a.MaxContrast, a.SpeckleSigma);

    /// <summary>A run's schedule and what it has done so far, carried from step to step.</summary>
    sealed class RunProgress(
        IReadOnlyList<Stage> stages,
        int steps,
        Sgd optimizer,
        TrainingState state,
        TensorBoardLog tensorboard,
        Augmenter? augmenter
    )
    {
        public IReadOnlyList<Stage> Stages { get; } = stages;
        public int Epochs { get; } = stages.Sum(x => x.Epochs);
        public int Steps { get; } = steps;
        public long TotalIterations => (long)Epochs * Steps;
        public Sgd Optimizer { get; } = optimizer;
        public TrainingState State { get; set; } = state;
        public TensorBoardLog TensorBoard { get; } = tensorboard;
        public Augmenter? Augmenter { get; } = augmenter;
        public List<ValidationResult> Validations { get; } = [];
        public Stopwatch Clock { get; } = Stopwatch.StartNew();

        /// <summary>Validation time, left out of the training time that recipes are compared by.</summary>
        public Stopwatch Validating { get; } = new();
        public long IterationsThisRun { get; set; }
        public string? CurrentGroup { get; set; }
        public int ConsecutiveNonFinite { get; set; } = state.ConsecutiveNonFinite;
    }

    /// <summary>
    /// Checks what a run needs before touching the folder (a resume that cannot happen leaves it as it was: no folder,
    /// config.json or metrics created), then creates it, removes interrupted writes and writes config.json.
    /// </summary>
    /// <returns>the run's stages</returns>
    IReadOnlyList<Stage> PrepareRunFolder(bool resume)
    {
        if (train.Count == 0)
            throw new MaskRcnnException($"training set '{train.Name}' has no usable images");
        var stages = StageSchedule.Parse(Settings.Stages, Settings.Epochs, Settings.LearningRate);
        if (resume && !Directory.Exists(RunDir))
            throw new MaskRcnnException($"cannot resume: run folder {RunDir} does not exist");
        if (resume && !File.Exists(LastCheckpoint))
            throw new MaskRcnnException($"cannot resume: {LastCheckpoint} does not exist");
        CheckImageSizes(train);
        if (val is not null)
            CheckImageSizes(val);
        Directory.CreateDirectory(RunDir);
        foreach (var (name, bytes) in RemoveStaleTemporaries())
            Message?.Invoke($"removed {name} ({bytes / 1e6:F1} MB), left by a checkpoint write that was interrupted");
        File.WriteAllText(Path.Combine(RunDir, "config.json"), Model.Config.ToJson());
        return stages;
    }

    /// <summary>
    /// Loads checkpoint_last (model, optimizer, random state) and drops the metrics rows written after it, which the
    /// resumed run logs again.
    /// </summary>
    TrainingState Resume(Sgd optimizer)
    {
        var c = Checkpoint.Read(LastCheckpoint);
        StateDicts.Load(Model, c.Model, strict: true, sourceName: LastCheckpoint);
        optimizer.LoadState(c.Optimizer);
        if (c.RngState is not null)
            torch.set_rng_state(c.RngState);
        var state = c.State ?? new TrainingState(0, 0, 0, null, null);
        Message?.Invoke(
            $"resumed from {LastCheckpoint}: epoch {state.Epoch + 1}, step {state.StepInEpoch}, "
                + $"iteration {state.Iteration}"
        );
        int dropped = TruncateMetrics(state.Iteration);
        if (dropped > 0)
            Message?.Invoke(
                $"{MetricsFile}: removed {dropped} rows written after that checkpoint "
                    + $"(iteration {state.Iteration}); they are logged again"
            );
        return state;
    }

    /// <summary>A new run: the seed set, an empty metrics file.</summary>
    TrainingState StartAfresh()
    {
        torch.manual_seed(Settings.Seed);
        if (File.Exists(MetricsFile))
            File.Delete(MetricsFile);
        return new TrainingState(0, 0, 0, null, null);
    }

    /// <summary>
    /// The epoch's steps from where the run stands: each a training step, a progress report and, every log_every
    /// iterations and at the epoch's end, a metrics row.
    /// </summary>
    /// <returns>false when the run stopped (cancelled or at <paramref name="stopAfterIteration"/>) with a
    /// checkpoint</returns>
    bool TrainEpoch(RunProgress run, int epoch, CancellationToken cancel, long? stopAfterIteration)
    {
        var s = Settings;
        var stage = StageOf(run.Stages, epoch);
        if (stage.Group != run.CurrentGroup)
        {
            long n = LayerGroups.Apply(Model, stage.Group);
            run.CurrentGroup = stage.Group;
            Message?.Invoke(
                $"epoch {epoch + 1}: training layer group '{stage.Group}' ({n:N0} parameters) "
                    + $"at learning rate {stage.LearningRate}"
            );
        }
        Model.train();
        LayerGroups.FreezeBatchNormOutside(Model, stage.Group);
        var order = train.Order(epoch, s.Seed);
        int firstStep = epoch == run.State.Epoch ? run.State.StepInEpoch : 0;
        for (int step = firstStep; step < run.Steps; step++)
        {
            if (cancel.IsCancellationRequested || (stopAfterIteration is long stop && run.State.Iteration >= stop))
            {
                run.State = run.State with
                {
                    Epoch = epoch,
                    StepInEpoch = step,
                    ConsecutiveNonFinite = run.ConsecutiveNonFinite,
                };
                Checkpoint.Save(LastCheckpoint, Model, run.Optimizer, run.State);
                Message?.Invoke(
                    $"stopped at epoch {epoch + 1}, step {step}; checkpoint {LastCheckpoint} "
                        + "(resume with --resume)"
                );
                return false;
            }
            run.Optimizer.LearningRate = LearningRate(stage.LearningRate, run.State.Iteration, run.TotalIterations);
            var losses = TrainStep(run.Optimizer, order, epoch, step, run.Augmenter, out bool finite);
            CountNonFinite(run, losses, finite, epoch, step);
            run.State = run.State with
            {
                Iteration = run.State.Iteration + 1,
                StepInEpoch = step + 1,
                ConsecutiveNonFinite = run.ConsecutiveNonFinite,
            };
            run.IterationsThisRun++;

            double seconds = run.Clock.Elapsed.TotalSeconds;
            double perIteration = seconds / run.IterationsThisRun;
            double imagesPerSecond = run.IterationsThisRun * s.ImagesPerBatch / Math.Max(1e-9, seconds);
            var eta = TimeSpan.FromSeconds(perIteration * (run.TotalIterations - run.State.Iteration));
            var progress = new TrainingProgress(
                epoch,
                run.Epochs,
                step + 1,
                run.Steps,
                run.State.Iteration,
                run.TotalIterations,
                stage.Group,
                losses,
                losses.Values.Where(double.IsFinite).Sum(),
                run.Optimizer.LearningRate,
                imagesPerSecond,
                run.Clock.Elapsed,
                eta
            );
            Progress?.Invoke(progress);
            if (run.State.Iteration % s.LogEvery == 0 || step + 1 == run.Steps)
                Log(progress, run.TensorBoard);
        }
        return true;
    }

    /// <summary>Counts consecutive non-finite losses (their steps were skipped); too many stop the run.</summary>
    void CountNonFinite(RunProgress run, Dictionary<string, double> losses, bool finite, int epoch, int step)
    {
        if (finite)
        {
            run.ConsecutiveNonFinite = 0;
            return;
        }
        run.ConsecutiveNonFinite++;
        string bad = string.Join(
            ", ",
            losses.Where(kv => !double.IsFinite(kv.Value)).Select(kv => $"{kv.Key} = {kv.Value}")
        );
        Message?.Invoke($"iteration {run.State.Iteration + 1}: non-finite loss ({bad}); step skipped");
        if (run.ConsecutiveNonFinite < Settings.MaxNonFiniteSteps)
            return;
        string lastGood = File.Exists(LastCheckpoint) ? LastCheckpoint : "none (no epoch finished)";
        throw new TrainingDivergedException(
            $"training stopped after {run.ConsecutiveNonFinite} consecutive non-finite losses ({bad}) at epoch "
                + $"{epoch + 1}, step {step + 1}; last good checkpoint: {lastGood}. Lower the learning rate or check "
                + "the data."
        );
    }

    /// <summary>
    /// The end of an epoch: validation when due (loss, COCO and clinical report, TensorBoard histograms and images; a
    /// better metric saves checkpoint_best), checkpoint_last, the memory release and the epoch's metrics row.
    /// </summary>
    void EndEpoch(RunProgress run, int epoch)
    {
        var s = Settings;
        run.State = run.State with { Epoch = epoch + 1, StepInEpoch = 0 };
        bool due =
            ValidationDue?.Invoke(epoch + 1)
            ?? s.ValidateEvery > 0 && ((epoch + 1) % s.ValidateEvery == 0 || epoch + 1 == run.Epochs);
        if (val is not null && val.Count > 0 && due)
        {
            run.Validating.Start();
            var v = Validate(epoch);
            run.TensorBoard.WeightHistograms(run.State.Iteration, Model);
            run.TensorBoard.Predictions(run.State.Iteration, Model, val);
            run.Validating.Stop();
            run.Validations.Add(v);
            var elapsed = run.Clock.Elapsed;
            LogValidation(v, run.State.Iteration, elapsed, elapsed - run.Validating.Elapsed, run.TensorBoard);
            Validated?.Invoke(v);
            double? metric = v.Report?.Segm?.AP ?? v.Report?.Bbox.AP;
            if (metric is double m && (run.State.BestMetric is null || m > run.State.BestMetric))
            {
                string name = v.Report?.Segm is not null ? "val segm AP" : "val bbox AP";
                run.State = run.State with { BestMetric = m, BestMetricName = name };
                Checkpoint.Save(BestCheckpoint, Model, run.Optimizer, run.State);
                Message?.Invoke($"epoch {epoch + 1}: new best {run.State.BestMetricName} = {m:F4} → {BestCheckpoint}");
            }
        }
        Checkpoint.Save(LastCheckpoint, Model, run.Optimizer, run.State with { Finished = epoch + 1 == run.Epochs });
        MemoryRelease.AfterTrainingEpoch();
        LogEpoch(epoch, run.State.Iteration, run.Clock.Elapsed, run.Clock.Elapsed - run.Validating.Elapsed);
    }

    /// <summary>
    /// The files a training run writes into its folder (config, metrics, checkpoints, final model, TensorBoard
    /// events, the data report, interrupted checkpoint writes): what <c>train --overwrite</c> replaces and what
    /// makes a folder "hold a run". Other files (an evaluation's JSON, notes) are not the run's.
    /// </summary>
    public static IReadOnlyList<string> RunFiles(string runDir)
    {
        if (!Directory.Exists(runDir))
            return [];
        return Directory
            .EnumerateFiles(runDir)
            .Where(f => IsRunFile(System.IO.Path.GetFileName(f)))
            .Order(StringComparer.Ordinal)
            .ToList();
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
        if (!Directory.Exists(RunDir))
            return removed;
        foreach (var file in Directory.EnumerateFiles(RunDir, "*.tmp").Order(StringComparer.Ordinal).ToList())
        {
            string name = System.IO.Path.GetFileName(file);
            if (!IsCheckpointTemporary(name))
                continue;
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
        if (!File.Exists(MetricsFile))
            return 0;
        var kept = new List<string>();
        int dropped = 0;
        foreach (var line in File.ReadLines(MetricsFile))
        {
            if (line.Length == 0)
                continue;
            long? at = null;
            try
            {
                using var row = JsonDocument.Parse(line);
                if (row.RootElement.TryGetProperty("iteration", out var v) && v.TryGetInt64(out long i))
                    at = i;
            }
            catch (JsonException)
            {
                dropped++;
                continue;
            }
            if (at > iteration)
            {
                dropped++;
                continue;
            }
            kept.Add(line);
        }
        if (dropped == 0)
            return 0;
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
        foreach (var st in stages)
        {
            if (e < st.Epochs)
                return st;
            e -= st.Epochs;
        }
        return stages[^1];
    }

    /// <summary>The learning rate at an iteration: stage rate × warm-up × (cosine | step decay).</summary>
    public double LearningRate(double baseRate, long iteration, long total)
    {
        var s = Settings;
        double warm =
            iteration < s.WarmupIters
                ? s.WarmupFactor + (1 - s.WarmupFactor) * iteration / Math.Max(1, s.WarmupIters)
                : 1.0;
        double progress = total > 0 ? (double)iteration / total : 0;
        double decay =
            s.Schedule == "cosine"
                ? 0.5 * (1 + Math.Cos(Math.PI * Math.Min(1, progress)))
                : Math.Pow(s.Gamma, s.StepMilestones.Count(m => progress >= m));
        return baseRate * warm * decay;
    }

    Dictionary<string, double> TrainStep(
        Sgd optimizer,
        int[] order,
        int epoch,
        int step,
        Augmenter? augmenter,
        out bool finite
    )
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
        using (Model.PrecisionScope(s.ComputePrecision))
            losses = Model.Losses(images, targets); // backward outside autocast
        if (LossTransform is not null)
            losses = LossTransform(losses);
        var values = losses.ToDictionary(kv => kv.Key, kv => (double)kv.Value.item<float>());
        finite = values.Values.All(double.IsFinite);
        if (!finite)
            return values;
        var total = losses.Values.Aggregate((a, b) => a + b);
        Model.Backward(total);
        var trainable = Model.parameters().Where(p => p.requires_grad && p.grad is not null).ToList();
        if (s.GradClipNorm > 0 && trainable.Count > 0)
            nn.utils.clip_grad_norm_(trainable, s.GradClipNorm);
        optimizer.Step();
        optimizer.ZeroGrad();
        return values;
    }

    /// <summary>Validation loss (training-mode losses, BatchNorm statistics untouched, no gradients) and the
    /// COCO/clinical report.</summary>
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
                var batch = Enumerable
                    .Range(i, Math.Min(Settings.ImagesPerBatch, val.Count - i))
                    .Select(k => val.Load(k))
                    .ToList();
                using var precision = Model.PrecisionScope(Settings.ComputePrecision);
                var losses = Model.Losses(
                    batch.Select(b => b.Image).ToList(),
                    batch.Select(b => new TargetTensors(b.Boxes, b.Labels, b.Masks)).ToList()
                );
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
    static readonly JsonSerializerOptions MetricsJson = new()
    {
        NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    void AppendMetrics(object line) =>
        File.AppendAllText(MetricsFile, JsonSerializer.Serialize(line, MetricsJson) + "\n");

    void Log(TrainingProgress p, TensorBoardLog tb)
    {
        var line = new Dictionary<string, object>
        {
            ["type"] = "train",
            ["epoch"] = p.Epoch + 1,
            ["step"] = p.Step,
            ["iteration"] = p.Iteration,
            ["stage"] = p.Stage,
            ["lr"] = p.LearningRate,
            ["loss"] = p.Loss,
            ["losses"] = p.Losses,
            ["images_per_s"] = Math.Round(p.ImagesPerSecond, 3),
            ["elapsed_s"] = Math.Round(p.Elapsed.TotalSeconds, 1),
            ["rss_mb"] = Math.Round(Environment.WorkingSet / 1e6, 1),
        };
        AppendMetrics(line);
        tb.Scalars(
            p.Iteration,
            p.Losses.Select(kv => ($"train/{kv.Key}", kv.Value))
                .Append(("train/loss", p.Loss))
                .Append(("train/lr", p.LearningRate))
        );
    }

    /// <summary>One "epoch" line per epoch in metrics.jsonl: resident memory after the epoch's memory is
    /// released.</summary>
    void LogEpoch(int epoch, long iteration, TimeSpan elapsed, TimeSpan training)
    {
        var line = new Dictionary<string, object>
        {
            ["type"] = "epoch",
            ["epoch"] = epoch + 1,
            ["iteration"] = iteration,
            ["elapsed_s"] = Math.Round(elapsed.TotalSeconds, 1),
            ["training_s"] = Math.Round(training.TotalSeconds, 1),
            ["rss_mb"] = Math.Round(Environment.WorkingSet / 1e6, 1),
            ["managed_mb"] = Math.Round(GC.GetTotalMemory(false) / 1e6, 1),
        };
        AppendMetrics(line);
    }

    /// <param name="elapsed">wall time of this run so far</param>
    /// <param name="training">the same without validation: the time training itself took</param>
    void LogValidation(ValidationResult v, long iteration, TimeSpan elapsed, TimeSpan training, TensorBoardLog tb)
    {
        var line = new Dictionary<string, object?>
        {
            ["type"] = "val",
            ["epoch"] = v.Epoch + 1,
            ["iteration"] = iteration,
            ["val_loss"] = v.Loss,
            ["elapsed_s"] = Math.Round(elapsed.TotalSeconds, 1),
            ["training_s"] = Math.Round(training.TotalSeconds, 1),
        };
        var scalars = new List<(string, double)>();
        if (v.Loss is double l)
            scalars.Add(("val/loss", l));
        if (v.Report is { } r)
        {
            line["bbox"] = r.Bbox;
            line["segm"] = r.Segm;
            line["per_class"] = r.PerClass;
            line["dice"] = r.Dice;
            line["sensitivity"] = r.Sensitivity;
            line["fp_per_image"] = r.FpPerImage;
            line["image_classification_accuracy"] = r.ImageClassificationAccuracy;
            scalars.AddRange([
                ("val/bbox_AP", r.Bbox.AP),
                ("val/bbox_AP50", r.Bbox.AP50),
                ("val/dice", r.Dice),
                ("val/sensitivity", r.Sensitivity),
            ]);
            if (r.Segm is { } sg)
                scalars.AddRange([("val/segm_AP", sg.AP), ("val/segm_AP50", sg.AP50)]);
        }
        AppendMetrics(line);
        tb.Scalars(iteration, scalars);
    }
}
