using System.Diagnostics;
using System.Text.Json;
using MaskRcnn.Config;
using MaskRcnn.Data;
using MaskRcnn.Data.Phantoms;
using MaskRcnn.Evaluation;
using MaskRcnn.IO;
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
)
{
    /// <summary>
    /// The mean total loss of this epoch's steps so far (finite losses, in this process): what a progress line
    /// should show, since one step's loss swings with its two images (0 on a batch of normal scans).
    /// </summary>
    public double EpochMeanLoss { get; init; } = Loss;
}

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
    /// <remarks>
    /// The run folder is locked for the whole run (<see cref="RunLock"/>): a second process training, resuming or
    /// overwriting there is refused with the holder's PID. A run whose every step had a non-finite loss is a
    /// <see cref="TrainingDivergedException"/>, not a finished model.
    /// </remarks>
    public TrainingResult Run(bool resume = false, CancellationToken cancel = default, long? stopAfterIteration = null)
    {
        CheckBeforeTouchingTheFolder(resume);
        using var folderLock = RunLock.Acquire(RunDir);
        var stages = PrepareRunFolder(resume);
        using var training = ModelCalls.TrainingRun(); // in a tuned process: steps reuse each other's pages
        var optimizer = new Sgd(Model.named_parameters(), Settings.Momentum, Settings.WeightDecay);
        var state = resume ? Resume(optimizer, stages) : StartAfresh();
        if (state.Finished)
        {
            // A run killed (or stopped) between its last checkpoint and the final model: the checkpoint is the model.
            if (!File.Exists(FinalModel))
            {
                Checkpoint.Save(FinalModel, Model, optimizer: null, state: state, includeRng: false);
                Message?.Invoke($"the run had finished; wrote its final model {FinalModel}");
            }
            return new TrainingResult(RunDir, state, [], FinalModel, false);
        }

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
            if (!EndEpoch(run, epoch, cancel))
                return new TrainingResult(RunDir, run.State, run.Validations, null, true);
        }
        if (NothingLearned(run))
            throw new TrainingDivergedException(
                $"every one of the run's {run.State.Iteration} steps had a non-finite loss and was skipped: nothing "
                    + "was learned, and no final model is written. Check the configuration (image_std, learning rate) "
                    + "and the data."
            );

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

        /// <summary>The losses of the steps since the last metrics row, for its window means.</summary>
        public LossMeans Window { get; } = new();

        /// <summary>The losses of this epoch's steps so far.</summary>
        public LossMeans EpochLosses { get; } = new();
    }

    /// <summary>Running means of the total loss and of each loss over a run of steps (non-finite ones left
    /// out).</summary>
    sealed class LossMeans
    {
        readonly Dictionary<string, double> _sums = [];
        double _total;
        int _steps;

        public void Add(IReadOnlyDictionary<string, double> losses)
        {
            if (!losses.Values.All(double.IsFinite))
                return;
            foreach (var (name, value) in losses)
                _sums[name] = _sums.GetValueOrDefault(name) + value;
            _total += losses.Values.Sum();
            _steps++;
        }

        public int Steps => _steps;
        public double Total => _steps == 0 ? double.NaN : _total / _steps;
        public Dictionary<string, double> Each => _sums.ToDictionary(kv => kv.Key, kv => kv.Value / _steps);

        public void Clear()
        {
            _sums.Clear();
            _total = 0;
            _steps = 0;
        }
    }

    /// <summary>
    /// Checks what a run needs before touching the folder (a resume that cannot happen leaves it as it was: no folder,
    /// config.json or metrics created), then creates it, removes interrupted writes and writes config.json.
    /// </summary>
    /// <returns>the run's stages</returns>
    IReadOnlyList<Stage> PrepareRunFolder(bool resume)
    {
        var stages = StageSchedule.Parse(Settings.Stages, Settings.Epochs, Settings.LearningRate);
        Directory.CreateDirectory(RunDir);
        foreach (var (name, bytes) in RemoveStaleTemporaries())
            Message?.Invoke($"removed {name} ({bytes / 1e6:F1} MB), left by a write that was interrupted");
        AtomicFile.WriteAllText(Path.Combine(RunDir, "config.json"), Model.Config.ToJson());
        return stages;
    }

    /// <summary>
    /// What makes a run impossible, found before the folder is created or locked: no usable image or region, a
    /// resume without its checkpoint, an image the model's resize cannot take, class ids the model does not have.
    /// </summary>
    void CheckBeforeTouchingTheFolder(bool resume)
    {
        if (train.Count == 0)
            throw new MaskRcnnException($"training set '{train.Name}' has no usable images");
        if (train.RegionsUsed == 0)
            throw new MaskRcnnException(
                $"training set '{train.Name}' has no usable region (of {train.RegionsListed} listed): there is "
                    + "nothing to learn"
                    + (train.Problems.Count > 0 ? $"; first problem: {train.Problems[0]}" : "")
            );
        if (resume && !Directory.Exists(RunDir))
            throw new MaskRcnnException($"cannot resume: run folder {RunDir} does not exist");
        if (resume && !File.Exists(LastCheckpoint))
            throw new MaskRcnnException($"cannot resume: {LastCheckpoint} does not exist");
        CheckClasses(train);
        CheckImageSizes(train);
        if (val is not null)
        {
            CheckClasses(val);
            CheckImageSizes(val);
        }
    }

    /// <summary>
    /// Every class id of the data must be one of the model's (1 … num_classes − 1), and a model with class names
    /// must be trained on data of the same classes, in the same order: otherwise the heads learn labels that mean
    /// something else, or libtorch fails in the middle of an epoch.
    /// </summary>
    void CheckClasses(Dataset data)
    {
        var config = Model.Config;
        int classes = config.NumClasses - 1;
        if (data.Classes.Count != classes)
            throw new MaskRcnnException(
                $"the model has {classes} classes (num_classes {config.NumClasses} with the background) but "
                    + $"'{data.Name}' has {data.Classes.Count} ({string.Join(", ", data.Classes)}): set num_classes "
                    + "and class_names in the configuration to the data's classes"
            );
        if (config.ClassNames.Length == config.NumClasses)
        {
            var names = config.ClassNames.Skip(1).ToArray();
            if (!names.SequenceEqual(data.Classes, StringComparer.OrdinalIgnoreCase))
                throw new MaskRcnnException(
                    $"the model's classes ({string.Join(", ", names)}) are not the classes of '{data.Name}' "
                        + $"({string.Join(", ", data.Classes)})"
                );
        }
    }

    /// <summary>
    /// Loads checkpoint_last (model, optimizer, random state) and drops the metrics rows written after it, which the
    /// resumed run logs again.
    /// </summary>
    TrainingState Resume(Sgd optimizer, IReadOnlyList<Stage> stages)
    {
        var c = Checkpoint.Read(LastCheckpoint);
        var state = c.State ?? new TrainingState(0, 0, 0, null, null);
        int epochs = stages.Sum(x => x.Epochs);
        if (state.Epoch > epochs || state.StepInEpoch > StepsPerEpoch || state.Iteration > (long)epochs * StepsPerEpoch)
            throw new MaskRcnnException(
                $"{LastCheckpoint}: its training state (epoch {state.Epoch + 1}, step {state.StepInEpoch}, iteration "
                    + $"{state.Iteration}) lies beyond this run's schedule ({epochs} epochs of {StepsPerEpoch} steps); "
                    + "refused"
            );
        StateDicts.Load(Model, c.Model, strict: true, sourceName: LastCheckpoint);
        optimizer.LoadState(c.Optimizer);
        if (c.RngState is not null)
            torch.set_rng_state(c.RngState);
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
        run.EpochLosses.Clear();
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
            run.Window.Add(losses);
            run.EpochLosses.Add(losses);

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
                losses.Values.Sum(), // NaN or ∞ when the step was skipped: never a loss of 0 that was not measured
                run.Optimizer.LearningRate,
                imagesPerSecond,
                run.Clock.Elapsed,
                eta
            )
            {
                EpochMeanLoss = run.EpochLosses.Steps > 0 ? run.EpochLosses.Total : double.NaN,
            };
            Progress?.Invoke(progress);
            if (run.State.Iteration % s.LogEvery == 0 || step + 1 == run.Steps)
            {
                Log(progress, run.Window, run.TensorBoard);
                run.Window.Clear();
            }
        }
        return true;
    }

    /// <summary>True when every step of the run so far (resumed parts included) had a non-finite loss.</summary>
    static bool NothingLearned(RunProgress run) =>
        run.State.Iteration > 0 && run.ConsecutiveNonFinite >= run.State.Iteration;

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
    /// <returns>
    /// false when <paramref name="cancel"/> stopped the run: during validation, checkpoint_last is saved at the
    /// epoch's last step, so that a resume validates the epoch again; after it, the epoch's checkpoint stands
    /// </returns>
    bool EndEpoch(RunProgress run, int epoch, CancellationToken cancel)
    {
        var s = Settings;
        var trained = run.State with { Epoch = epoch, StepInEpoch = run.Steps };
        run.State = run.State with { Epoch = epoch + 1, StepInEpoch = 0 };
        bool due =
            ValidationDue?.Invoke(epoch + 1)
            ?? s.ValidateEvery > 0 && ((epoch + 1) % s.ValidateEvery == 0 || epoch + 1 == run.Epochs);
        if (val is not null && val.Count > 0 && due)
        {
            run.Validating.Start();
            ValidationResult v;
            try
            {
                v = Validate(epoch, cancel);
            }
            catch (OperationCanceledException) when (cancel.IsCancellationRequested)
            {
                run.Validating.Stop();
                run.State = trained;
                Checkpoint.Save(LastCheckpoint, Model, run.Optimizer, trained);
                Message?.Invoke(
                    $"stopped during epoch {epoch + 1}'s validation; checkpoint {LastCheckpoint} at the epoch's last "
                        + "step (resume with --resume: the epoch is validated again)"
                );
                return false;
            }
            run.TensorBoard.WeightHistograms(run.State.Iteration, Model);
            run.TensorBoard.Predictions(run.State.Iteration, Model, val);
            run.Validating.Stop();
            run.Validations.Add(v);
            var elapsed = run.Clock.Elapsed;
            LogValidation(v, run.State.Iteration, elapsed, elapsed - run.Validating.Elapsed, run.TensorBoard);
            Validated?.Invoke(v);
            // pycocotools' −1 is "undefined" (no ground truth): never a best model.
            double? metric = v.Report?.Segm?.AP ?? v.Report?.Bbox.AP;
            if (metric is double m && m >= 0 && (run.State.BestMetric is null || m > run.State.BestMetric))
            {
                string name = v.Report?.Segm is not null ? "val segm AP" : "val bbox AP";
                run.State = run.State with { BestMetric = m, BestMetricName = name };
                Checkpoint.Save(BestCheckpoint, Model, run.Optimizer, run.State);
                Message?.Invoke($"epoch {epoch + 1}: new best {run.State.BestMetricName} = {m:F4} → {BestCheckpoint}");
            }
        }
        // A run that learned nothing is never "finished": a resume must not turn it into a final model.
        bool finished = epoch + 1 == run.Epochs && !NothingLearned(run);
        Checkpoint.Save(LastCheckpoint, Model, run.Optimizer, run.State with { Finished = finished });
        ModelCalls.EndTrainingEpoch();
        LogEpoch(epoch, run.State.Iteration, run.Clock.Elapsed, run.Clock.Elapsed - run.Validating.Elapsed);
        if (!cancel.IsCancellationRequested)
            return true;
        Message?.Invoke(
            $"stopped after epoch {epoch + 1}; checkpoint {LastCheckpoint}"
                + (
                    epoch + 1 == run.Epochs
                        ? " (the run's last epoch: resume with --resume writes the final model)"
                        : ""
                )
        );
        return false;
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
        IsRunOutput(name)
        || name.StartsWith("events.out.tfevents.", StringComparison.Ordinal)
        || IsCheckpointTemporary(name);

    /// <summary>The files of a run that are written whole (<see cref="AtomicFile"/>), by name.</summary>
    static bool IsRunOutput(string name) =>
        name is "config.json" or "metrics.jsonl" or DataProblemsFile or "model_final.safetensors"
        || name.StartsWith("checkpoint_", StringComparison.Ordinal)
            && name.EndsWith(".safetensors", StringComparison.Ordinal)
            && !name.EndsWith(".tmp", StringComparison.Ordinal);

    /// <summary>The skipped data of a run, as <c>train</c> writes it into the run folder.</summary>
    public const string DataProblemsFile = "data_problems.json";

    /// <summary>
    /// A temporary that a write of one of the run's files leaves when the process is killed before its rename
    /// (<see cref="AtomicFile"/>: NAME.PID.RANDOM.tmp; checkpoints of earlier versions: NAME.PID.tmp), or an earlier
    /// version's metrics rewrite (metrics.jsonl.tmp).
    /// </summary>
    static bool IsCheckpointTemporary(string name)
    {
        if (name == "metrics.jsonl.tmp")
            return true;
        int dot = name.IndexOf(".safetensors.", StringComparison.Ordinal);
        string target =
            dot > 0 ? name[..(dot + ".safetensors".Length)]
            : name.StartsWith("config.json.", StringComparison.Ordinal) ? "config.json"
            : name.StartsWith("metrics.jsonl.", StringComparison.Ordinal) ? "metrics.jsonl"
            : name.StartsWith(DataProblemsFile + ".", StringComparison.Ordinal) ? DataProblemsFile
            : "";
        return target.Length > 0 && IsRunOutput(target) && AtomicFile.IsTemporary(name, target);
    }

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
        AtomicFile.WriteAllText(MetricsFile, string.Concat(kept.Select(line => line + "\n")));
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
        using var call = ModelCalls.Step();
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
    /// COCO/clinical report. The training's random draws are left as they were: the loss samples anchors and RoIs
    /// from libtorch's global generator as a training step does, so without restoring it a run validated every epoch
    /// would train other weights than the same run validated once.</summary>
    ValidationResult Validate(int epoch, CancellationToken cancel)
    {
        using var trainingDraws = torch.get_rng_state();
        try
        {
            return LossAndReport(epoch, cancel);
        }
        finally
        {
            torch.set_rng_state(trainingDraws);
        }
    }

    ValidationResult LossAndReport(int epoch, CancellationToken cancel)
    {
        double? loss = null;
        using (var noGrad = no_grad())
        {
            Model.train();
            LayerGroups.FreezeBatchNormOutside(Model, "none");
            var totals = new List<double>();
            for (int i = 0; i + 1 <= val!.Count; i += Settings.ImagesPerBatch)
            {
                cancel.ThrowIfCancellationRequested();
                using var call = ModelCalls.Step();
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
        EvaluationReport report;
        try
        {
            report = DatasetEvaluation.Evaluate(Model, val!, Settings.ClinicalScoreThreshold, cancel: cancel);
        }
        finally
        {
            Model.train();
        }
        return new ValidationResult(epoch, loss, report);
    }

    /// <summary>metrics.jsonl: NaN and ∞ written as "NaN"/"Infinity" strings rather than failing.</summary>
    static readonly JsonSerializerOptions MetricsJson = new()
    {
        NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    void AppendMetrics(object line) =>
        File.AppendAllText(MetricsFile, JsonSerializer.Serialize(line, MetricsJson) + "\n");

    /// <param name="window">the steps since the previous row: their mean losses go into "loss_mean" and
    /// "losses_mean" (with "mean_steps" steps), the curves a reader should look at; "loss" and "losses" are the
    /// row's own step</param>
    void Log(TrainingProgress p, LossMeans window, TensorBoardLog tb)
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
            ["loss_mean"] = window.Total,
            ["losses_mean"] = window.Each,
            ["mean_steps"] = window.Steps,
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
            // Undefined metrics (no ground truth: pycocotools' −1, or null) are left out of TensorBoard's curves.
            (string, double?)[] values =
            [
                ("val/bbox_AP", r.Bbox.AP),
                ("val/bbox_AP50", r.Bbox.AP50),
                ("val/dice", r.Dice),
                ("val/sensitivity", r.Sensitivity),
                ("val/segm_AP", r.Segm?.AP),
                ("val/segm_AP50", r.Segm?.AP50),
            ];
            foreach (var (tag, value) in values)
                if (value is double x && x >= 0)
                    scalars.Add((tag, x));
        }
        AppendMetrics(line);
        tb.Scalars(iteration, scalars);
    }
}
