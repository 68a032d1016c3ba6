using System.CommandLine;
using System.Runtime.InteropServices;
using MaskRcnn.Tuning;

namespace MaskRcnn.Cli.Verbs;

/// <summary>
/// <c>maskrcnn sweep --data DIR --space SPACE.json --budget MINUTES --out SWEEP [--resume | --overwrite] [--metric M]
/// [--threads T]</c>: successive halving over a search space (<see cref="Sweep"/>).
/// </summary>
static class SweepVerb
{
    public static Command Create()
    {
        var data = new Option<string>("--data")
        {
            Description = "data folder with train/ and val/ (trials are ranked on val; test/ is never read)",
            Required = true,
        };
        var space = new Option<string?>("--space")
        {
            Description =
                "search space JSON (base preset or config, params with choice/uniform/loguniform/int, "
                + "rungs, metric, seed, max_trials; see README); with --resume the sweep's own space.json",
        };
        var budget = new Option<double?>("--budget")
        {
            Description =
                "wall-clock minutes for the whole sweep, resumed runs included (with --resume: the new "
                + "total; default the sweep's)",
        };
        budget.Validators.Add(result =>
        {
            double? v = null;
            try
            {
                v = result.GetValueOrDefault<double?>();
            }
            catch (InvalidOperationException) { }
            if (v is double b && !(b > 0 && b <= 100_000))
                result.AddError($"--budget: {b} is outside (0, 100000] minutes");
        });
        var outDir = new Option<string>("--out")
        {
            Description = "sweep folder: space.json, trials.json, trials.csv, best.json, trials/trial-NNN run folders",
            Required = true,
        };
        var resume = new Option<bool>("--resume")
        {
            Description = "continue the sweep in --out: finished trials stay, an interrupted one continues",
        };
        var overwrite = new Option<bool>("--overwrite") { Description = "replace the sweep in --out" };
        var metric = new Option<string?>("--metric")
        {
            Description =
                "selection metric on the val split, overriding the space's: "
                + string.Join(", ", SelectionMetric.All.Select(m => m.Name))
                + " (default segm_ap50)",
        };
        var threads = Verbs.ThreadsOption();
        var cmd = new Command(
            "sweep",
            "Tune hyper-parameters by successive halving: many short trials, the best promoted to longer training "
                + "(Ctrl+C or SIGTERM stops after the current step; --resume continues)."
        )
        {
            data,
            space,
            budget,
            outDir,
            resume,
            overwrite,
            metric,
            threads,
        };
        cmd.SetAction(r =>
            Verbs.Run(() =>
            {
                bool resuming = r.GetValue(resume);
                if (!resuming && r.GetValue(space) is null)
                    throw new ArgumentException("--space: required for a new sweep (with --resume, optional)");
                if (!resuming && r.GetValue(budget) is null)
                    throw new ArgumentException("--budget: required for a new sweep (with --resume, optional)");
                var searchSpace = r.GetValue(space) is string file ? SearchSpace.Load(file) : null;
                if (r.GetValue(metric) is string m && searchSpace is not null)
                    searchSpace = searchSpace with { Metric = SelectionMetric.Parse(m) };
                else if (r.GetValue(metric) is string && resuming)
                    throw new ArgumentException("--metric: a resumed sweep keeps its own metric");
                var options = new SweepOptions
                {
                    Data = r.GetValue(data)!,
                    Folder = r.GetValue(outDir)!,
                    Space = searchSpace,
                    BudgetMinutes = r.GetValue(budget) ?? 0,
                    Resume = resuming,
                    Overwrite = r.GetValue(overwrite),
                };
                Verbs.InitializeTorch(r.GetValue(threads));
                using var cts = new CancellationTokenSource();
                PosixSignal? received = null;
                void OnSignal(PosixSignalContext context)
                {
                    if (received is not null)
                        return;
                    context.Cancel = true;
                    received = context.Signal;
                    cts.Cancel();
                    Console.WriteLine($"\n{context.Signal} received: stopping after this step with a checkpoint…");
                }
                using var onInterrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
                using var onTerminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
                var result = Sweep.Run(options, p => Console.WriteLine(p.ToString()), cts.Token);
                if (result.Best is { } best)
                    Console.WriteLine(
                        $"best: {best.Name} ({best.Epochs} epochs), {result.Metric.Title} {best.Metric:F3}; "
                            + $"config {Path.Combine(options.Folder, SweepFiles.BestConfig)} "
                            + $"(maskrcnn train --config it), run {Path.Combine(options.Folder, best.Folder)}"
                    );
                if (!result.Stopped)
                    return 0;
                Console.WriteLine(
                    $"stopped; continue with: maskrcnn sweep --data {options.Data} --out {options.Folder} --resume"
                );
                return received == PosixSignal.SIGTERM ? 143 : 130;
            })
        );
        return cmd;
    }
}
