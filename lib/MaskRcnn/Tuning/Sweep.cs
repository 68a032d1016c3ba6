using System.Diagnostics;
using MaskRcnn.Config;
using MaskRcnn.Data;
using MaskRcnn.Runtime;
using MaskRcnn.Training;

namespace MaskRcnn.Tuning;

/// <summary>What a sweep runs on, and how long.</summary>
public sealed record SweepOptions
{
    /// <summary>A data folder with train/ and val/ (test/ is never read).</summary>
    public required string Data { get; init; }

    /// <summary>The sweep folder: space.json, trials.json, trials.csv, best.json, trials/trial-NNN/ run folders.</summary>
    public required string Folder { get; init; }

    /// <summary>The space (required for a new sweep; on resume, if given, it must be the sweep's own).</summary>
    public SearchSpace? Space { get; init; }

    /// <summary>Wall-clock minutes for the whole sweep, resumed runs included; on resume, 0 keeps the sweep's.</summary>
    public double BudgetMinutes { get; init; }

    /// <summary>Continue the sweep in <see cref="Folder"/>: finished trials stay, an interrupted one continues.</summary>
    public bool Resume { get; init; }

    /// <summary>Replace the sweep in <see cref="Folder"/> (its files and trials/) instead of refusing.</summary>
    public bool Overwrite { get; init; }

    /// <summary>Use only the first N training / validation images (null: all), for quick runs.</summary>
    public int? TrainImages { get; init; }
    public int? ValImages { get; init; }
    public string Device { get; init; } = "cpu";
}

/// <summary>A sweep's outcome: every trial, the best and its configuration, and why it ended.</summary>
public sealed record SweepResult(
    string Folder,
    SearchSpace Space,
    SweepState State,
    Trial? Best,
    MaskRcnnConfig? BestConfig,
    bool Stopped
)
{
    public IReadOnlyList<Trial> Trials => State.Trials;
    public IReadOnlyList<int> Rungs => State.Rungs;
    public SelectionMetric Metric => Space.Metric;

    /// <summary>Reads a sweep folder (while it runs, or after).</summary>
    public static SweepResult Read(string folder)
    {
        var state = SweepFiles.ReadState(folder);
        var space = SearchSpace.Load(Path.Combine(folder, SweepFiles.Space));
        var best = state.Trials.FirstOrDefault(t => t.Id == state.BestTrial);
        var config = best is null ? null : ConfigPaths.ToConfig(best.Config, best.Name);
        return new SweepResult(folder, space, state, best, config, false);
    }
}

/// <summary>
/// A hyper-parameter sweep by successive halving (<see cref="Promotion"/>: ASHA, one job at a time) over a
/// <see cref="SearchSpace"/>, in a wall-clock budget. Each trial is an ordinary training run (<see cref="Trainer"/>)
/// in SWEEP/trials/trial-NNN; a promoted trial resumes from its checkpoint (<see cref="TrialSchedule"/>). Trials are
/// ranked by a validation metric only. A trial that fails (non-finite losses, out of memory, an exception) is recorded
/// as failed and the sweep goes on. The state is written after every job, so a killed sweep resumes
/// (<see cref="SweepOptions.Resume"/>) without redoing finished work.
/// </summary>
public sealed class Sweep(SweepOptions options)
{
    /// <summary>Reports as the sweep goes (see <see cref="SweepProgress"/>).</summary>
    public event Action<SweepProgress>? Progress;

    /// <summary>Runs a sweep, reporting to <paramref name="progress"/>.</summary>
    public static SweepResult Run(
        SweepOptions options,
        Action<SweepProgress>? progress = null,
        CancellationToken cancel = default
    )
    {
        var sweep = new Sweep(options);
        if (progress is not null)
            sweep.Progress += progress;
        return sweep.Run(cancel);
    }

    SearchSpace _space = null!;
    SweepState _state = null!;
    readonly Stopwatch _clock = new();
    double _elapsedBefore;

    TimeSpan Elapsed => TimeSpan.FromSeconds(_elapsedBefore + _clock.Elapsed.TotalSeconds);
    TimeSpan Budget => TimeSpan.FromMinutes(_state.BudgetMinutes);

    /// <summary>Runs until the budget is spent, no trial is left to train or promote, or <paramref name="cancel"/>.</summary>
    public SweepResult Run(CancellationToken cancel = default)
    {
        Open();
        _clock.Start();
        var (train, val) = LoadData();
        Create(); // only now that the space and the data are usable: a failed start leaves no sweep behind
        var runner = new TrialRunner(train, val, options.Folder, _space.Rungs, _space.Metric)
        {
            Device = TorchEnvironment.ResolveDevice(options.Device),
        };
        var sampler = new TrialSampler(_space, options.Folder);
        bool stopped = false;
        string ended;
        while (true)
        {
            if (cancel.IsCancellationRequested)
            {
                (stopped, ended) = (true, "cancelled");
                break;
            }
            if (Elapsed >= Budget)
            {
                ended = "the budget is spent";
                break;
            }
            var (trial, rung, what) = NextJob(sampler);
            if (trial is null)
            {
                ended = what;
                break;
            }
            var outcome = RunJob(runner, trial, rung, what, cancel);
            if (outcome.Stopped && cancel.IsCancellationRequested)
            {
                (stopped, ended) = (true, "cancelled");
                break;
            }
        }
        _state.Ended = ended;
        Save();
        Report("message", null, 0, $"sweep ended: {ended}; {Summary()}");
        var best = Promotion.Best(_state.Trials);
        return new SweepResult(
            options.Folder,
            _space,
            _state,
            best,
            best is null ? null : ConfigPaths.ToConfig(best.Config, best.Name),
            stopped
        );
    }

    /// <summary>
    /// The next job — an interrupted trial, else a promotion, else a new trial, one that fits the budget — and what it
    /// is; or no trial, and why the sweep ends.
    /// </summary>
    (Trial? Trial, int Rung, string What) NextJob(TrialSampler sampler)
    {
        var trials = _state.Trials;
        if (trials.FirstOrDefault(t => t.Status is TrialStatus.Running or TrialStatus.Stopped) is Trial interrupted)
            return (interrupted, interrupted.TargetRung, "continues where it stopped");
        var promote = Promotion.Next(trials, _space.Rungs.Epochs.Count, _space.Rungs.Eta);
        if (promote is not null && Fits(_space.Rungs.Epochs[promote.Results.Count] - promote.Epochs))
            return (promote, promote.Results.Count, $"promoted from {promote.Epochs} epochs");
        bool more = _space.MaxTrials is not int max || trials.Count < max;
        if (more && Fits(_space.Rungs.Epochs[0]))
        {
            var trial = sampler.Draw(trials.Count == 0 ? 0 : trials.Max(t => t.Id) + 1, trials);
            if (trial is not null)
            {
                trials.Add(trial);
                return (trial, 0, "new trial: " + Describe(trial));
            }
            return (null, 0, "every configuration of the space has been drawn, and no trial is left to promote");
        }
        if (promote is not null || more)
            return (null, 0, "the budget left fits no further job");
        return (null, 0, $"max_trials ({_space.MaxTrials}) reached, and no trial is left to promote");
    }

    /// <summary>Whether <paramref name="epochs"/> more epochs fit the budget left, at the sweep's pace so far.</summary>
    bool Fits(int epochs)
    {
        var jobs = _state.Trials.SelectMany(t =>
            t.Results.Select((r, i) => (r, from: i == 0 ? 0 : t.Results[i - 1].Epochs))
        );
        double seconds = jobs.Sum(j => j.r.Seconds);
        int trained = jobs.Sum(j => j.r.Epochs - j.from);
        return trained == 0 || (Budget - Elapsed).TotalSeconds >= seconds / trained * epochs;
    }

    /// <summary>The drawn values of a trial, as tables show them.</summary>
    string Describe(Trial trial) =>
        string.Join(
            ", ",
            _space
                .Parameters.Where(p => trial.Params.ContainsKey(p.Key))
                .Select(p => $"{p.Key} {p.Describe(trial.Params[p.Key])}")
        );

    JobOutcome RunJob(TrialRunner runner, Trial trial, int rung, string what, CancellationToken cancel)
    {
        trial.Status = TrialStatus.Running;
        trial.TargetRung = rung;
        Save();
        Report("job", trial, rung, what);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancel);
        deadline.CancelAfter(Budget - Elapsed > TimeSpan.Zero ? Budget - Elapsed : TimeSpan.Zero);
        var lastStep = Stopwatch.StartNew();
        void OnStep(TrainingProgress p)
        {
            if (lastStep.Elapsed.TotalSeconds < 30 && p.Step != p.StepsPerEpoch)
                return;
            lastStep.Restart();
            Save(); // the time spent so far counts even if the process is killed now
            Report("step", trial, rung, "", p);
        }
        runner.Step += OnStep;
        try
        {
            var outcome = runner.Run(trial, rung, deadline.Token);
            if (outcome.Stopped)
            {
                trial.Status = TrialStatus.Stopped;
                Save();
                Report("stopped", trial, rung, cancel.IsCancellationRequested ? "cancelled" : "the budget is spent");
                return outcome;
            }
            trial.Results.Add(outcome.Result!);
            trial.Status = rung + 1 == _space.Rungs.Epochs.Count ? TrialStatus.Complete : TrialStatus.Waiting;
            Save();
            Report("result", trial, rung);
            return outcome;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            trial.Status = TrialStatus.Failed;
            trial.Error = OneLine(e);
            Save();
            Report("failed", trial, rung);
            return new JobOutcome(null, Stopped: false);
        }
        finally
        {
            runner.Step -= OnStep;
        }
    }

    /// <summary>Checks the folder and reads the sweep to resume, or sets up a new one (in memory: see
    /// <see cref="Create"/>).</summary>
    void Open()
    {
        string folder = options.Folder;
        bool holds = SweepFiles.Holds(folder);
        if (options.Resume && options.Overwrite)
            throw new MaskRcnnException("resume continues the sweep, overwrite replaces it: give one");
        if (options.Resume && !holds)
            throw new MaskRcnnException($"cannot resume: {folder} holds no sweep ({SweepFiles.State} not found)");
        if (!options.Resume && holds && !options.Overwrite)
            throw new MaskRcnnException(
                $"{folder} already holds a sweep: continue it with --resume, or give another --out"
            );
        string data = Path.GetFullPath(options.Data);
        if (options.Resume)
        {
            _space = SearchSpace.Load(Path.Combine(folder, SweepFiles.Space));
            if (options.Space is { } given && given.ToJson().ToJsonString() != _space.ToJson().ToJsonString())
                throw new MaskRcnnException(
                    $"the search space given differs from the sweep's own ({Path.Combine(folder, SweepFiles.Space)}); "
                        + "resume without it, or start a new sweep in another folder"
                );
            _state = SweepFiles.ReadState(folder);
            if (_state.Data != data)
                throw new MaskRcnnException($"the sweep in {folder} ran on {_state.Data}, not {data}");
            if (options.BudgetMinutes > 0)
                _state.BudgetMinutes = options.BudgetMinutes;
            _elapsedBefore = _state.ElapsedSeconds;
            return;
        }
        _space = options.Space ?? throw new MaskRcnnException("a new sweep needs a search space");
        if (!(options.BudgetMinutes > 0) || double.IsInfinity(options.BudgetMinutes))
            throw new MaskRcnnException($"budget: {options.BudgetMinutes} minutes (must be > 0)");
        _state = new SweepState
        {
            Data = data,
            BudgetMinutes = options.BudgetMinutes,
            Metric = _space.Metric.Name,
            Rungs = _space.Rungs.Epochs.ToArray(),
        };
    }

    /// <summary>A new sweep's folder: the old sweep removed (with <see cref="SweepOptions.Overwrite"/>), the space and
    /// the empty state written.</summary>
    void Create()
    {
        if (options.Resume)
            return;
        if (options.Overwrite)
            Clear(options.Folder);
        Directory.CreateDirectory(options.Folder);
        SweepFiles.WriteSpace(options.Folder, _space);
        Save();
    }

    static void Clear(string folder)
    {
        foreach (var file in new[] { SweepFiles.Space, SweepFiles.State, SweepFiles.Table, SweepFiles.BestConfig })
            if (File.Exists(Path.Combine(folder, file)))
                File.Delete(Path.Combine(folder, file));
        if (Directory.Exists(Path.Combine(folder, "trials")))
            Directory.Delete(Path.Combine(folder, "trials"), recursive: true);
    }

    /// <summary>The train and val splits, decoded once in full; the val split must hold lesions to rank by.</summary>
    (Dataset Train, Dataset Val) LoadData()
    {
        var classes = _space.Base["class_names"]!.AsArray().Select(n => n!.ToString()).Skip(1).ToArray();
        var labels = classes.Length > 0 ? new LabelOptions(classes) : LabelOptions.Default;
        if (!Directory.Exists(options.Data))
            throw new MaskRcnnException($"data folder not found: {options.Data}");
        if (!Directory.Exists(Path.Combine(options.Data, "val")))
            throw new MaskRcnnException(
                $"{options.Data}: no val split: a sweep ranks its trials on the validation split (never on test)"
            );
        var train = DatasetLoader.LoadSplit(options.Data, "train", labels, decode: true);
        var val = DatasetLoader.LoadSplit(options.Data, "val", labels, decode: true);
        if (options.TrainImages is int nt)
            train = train.Take(nt);
        if (options.ValImages is int nv)
            val = val.Take(nv);
        if (val.RegionsUsed == 0)
            throw new MaskRcnnException(
                $"{options.Data}: the val split has no lesions: {_space.Metric.Title} would be undefined"
            );
        int problems = train.Problems.Count + val.Problems.Count;
        Report(
            "message",
            null,
            0,
            $"data: {train.Count} training, {val.Count} validation images ({problems} problems); rungs "
                + $"{string.Join(", ", _space.Rungs.Epochs)} epochs, the best 1/{_space.Rungs.Eta} promoted; ranked by "
                + $"{_space.Metric.Title}; budget {_state.BudgetMinutes:G4} min"
                + (_elapsedBefore > 0 ? $", {_elapsedBefore / 60:F1} spent; {Summary()}" : "")
        );
        return (train, val);
    }

    string Summary()
    {
        var t = _state.Trials;
        return $"{t.Count} trials: {t.Count(x => x.Status == TrialStatus.Complete)} complete, "
            + $"{t.Count(x => x.Status == TrialStatus.Waiting)} stopped at a rung, "
            + $"{t.Count(x => x.Status == TrialStatus.Failed)} failed"
            + (t.Any(x => x.Status is TrialStatus.Stopped or TrialStatus.Running) ? ", 1 interrupted" : "");
    }

    void Save()
    {
        _state.ElapsedSeconds = Math.Round(Elapsed.TotalSeconds, 1);
        _state.BestTrial = Promotion.Best(_state.Trials)?.Id;
        SweepFiles.Write(options.Folder, _state, _space);
    }

    void Report(string kind, Trial? trial, int rung, string message = "", TrainingProgress? step = null) =>
        Progress?.Invoke(
            new SweepProgress(
                kind,
                trial,
                rung,
                _space.Rungs.Epochs,
                step,
                Promotion.Best(_state.Trials),
                _space.Metric,
                Elapsed,
                Budget,
                message
            )
        );

    /// <summary>An exception as one line: libtorch's message up to its first line break.</summary>
    static string OneLine(Exception e)
    {
        string message = e.Message.Split('\n', StringSplitOptions.RemoveEmptyEntries).FirstOrDefault()?.Trim() ?? "";
        return e is MaskRcnnException ? message : $"{e.GetType().Name}: {message}";
    }
}
