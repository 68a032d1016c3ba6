using System.CommandLine;
using System.Runtime.InteropServices;
using System.Text.Encodings.Web;
using System.Text.Json;
using MaskRcnn.Config;
using MaskRcnn.Data;
using MaskRcnn.Evaluation;
using MaskRcnn.IO;
using MaskRcnn.Modeling;
using MaskRcnn.Modeling.Transform;
using MaskRcnn.Runtime;
using MaskRcnn.Training;
using MaskRcnn.Weights;
using TorchSharp;

namespace MaskRcnn.Cli.Verbs;

/// <summary>
/// <c>maskrcnn train --data DIR [--preset NAME | --config FILE] [--weights coco|none|FILE] [--stages SPEC]
/// [--epochs N] [--steps-per-epoch N] --out RUN_DIR [--resume | --overwrite]</c>
/// </summary>
static class TrainVerb
{
    public static Command Create()
    {
        var data = new Option<string>("--data")
        {
            Description = "data folder with train/ (and val/) splits",
            Required = true,
        };
        var preset = new Option<string?>("--preset")
        {
            Description = $"configuration preset: {string.Join(", ", Presets.Names)} (default cpu-quick)",
        };
        var config = new Option<string?>("--config")
        {
            Description = "configuration JSON (as written to RUN_DIR/config.json)",
        };
        var weights = new Option<string?>("--weights")
        {
            Description =
                "start point: none (from scratch), coco (torchvision COCO weights), imagenet (ML.NET's ImageNet "
                + "ResNet-18 backbone, for arch resnet18-mlnet-fpn), or a weights/checkpoint file (default: the "
                + "config's "
                + "training.start_from: imagenet for the walkthrough preset, none for the others)",
        };
        var stages = new Option<string?>("--stages")
        {
            Description = "stage schedule, e.g. heads:10,4+:10,all:10@0.0001",
        };
        var epochs = Verbs.Range(
            new Option<int?>("--epochs") { Description = "epochs (when no stage schedule)" },
            1,
            100_000
        );
        var steps = Verbs.Range(
            new Option<int?>("--steps-per-epoch") { Description = "steps per epoch (0: one pass over the data)" },
            0,
            10_000_000
        );
        var outDir = new Option<string>("--out")
        {
            Description = "run folder: checkpoints, metrics.jsonl, TensorBoard events, final model",
            Required = true,
        };
        var resume = new Option<bool>("--resume")
        {
            Description = "continue the run in RUN_DIR from its checkpoint_last.safetensors",
        };
        var overwrite = new Option<bool>("--overwrite")
        {
            Description =
                "replace the run RUN_DIR holds (its checkpoints, metrics, events, final model); "
                + "without --resume or --overwrite, a folder holding a run is refused",
        };
        var device = new Option<string>("--device")
        {
            Description = "cpu, cuda, cuda:N or auto",
            DefaultValueFactory = _ => "cpu",
        };
        var threads = Verbs.ThreadsOption();
        var seed = new Option<int?>("--seed") { Description = "random seed (default: the config's)" };
        var labelKey = Verbs.LabelKeyOption();
        var precision = Verbs.PrecisionOption(
            "fp32 or bf16: training steps' forward passes under bfloat16 autocast (mixed precision; ~1.6x faster "
                + "on CPUs with AVX512_BF16/AMX). Default: the config's (fp32)",
            defaultValue: null
        );
        var cmd = new Command(
            "train",
            "Train Mask R-CNN on a data folder (Ctrl+C or SIGTERM stops after the current "
                + "step and saves a resumable checkpoint; the exit code is then 130 or 143)."
        )
        {
            data,
            preset,
            config,
            weights,
            stages,
            epochs,
            steps,
            outDir,
            resume,
            overwrite,
            device,
            threads,
            seed,
            precision,
            labelKey,
        };
        cmd.SetAction(r =>
            Verbs.Run(() =>
            {
                string run = r.GetValue(outDir)!,
                    dataDir = r.GetValue(data)!;
                bool resuming = r.GetValue(resume),
                    replacing = r.GetValue(overwrite);
                if (DataVerbs.SameOrInside(run, dataDir))
                    throw new MaskRcnnException(
                        $"--out: {run} is, or is inside, the data folder {dataDir}; a run's files (and --overwrite) do "
                            + "not belong among the annotations"
                    );
                // One process at a time in a run folder, from before it is looked at until the run ends.
                using var folderLock = LockRunFolder(run, resuming, replacing);
                Verbs.InitializeTorch(r.GetValue(threads));
                var dev = TorchEnvironment.ResolveDevice(r.GetValue(device));
                MaskRcnnConfig cfg;
                string source;
                if (resuming && File.Exists(Path.Combine(run, "config.json")))
                    cfg = MaskRcnnConfig.Load(source = Path.Combine(run, "config.json"));
                else if (r.GetValue(config) is string file)
                    cfg = MaskRcnnConfig.Load(source = file);
                else
                    cfg = Presets.Get(source = r.GetValue(preset) ?? "cpu-quick");
                if (!resuming)
                {
                    var t = cfg.Training;
                    if (r.GetValue(stages) is string st)
                        t = t with { Stages = st };
                    if (r.GetValue(epochs) is int e)
                        t = t with { Epochs = e, Stages = r.GetValue(stages) ?? "" };
                    if (r.GetValue(steps) is int sp)
                        t = t with { StepsPerEpoch = sp };
                    if (r.GetValue(seed) is int sd)
                        t = t with { Seed = sd };
                    if (r.GetValue(precision) is string pr)
                        t = t with { Precision = ComputePrecisionNames.Parse(pr).ShortName() };
                    cfg = (cfg with { Training = t }).Validate("training configuration");
                }
                else
                {
                    var ignored = new Option[] { stages, epochs, steps, seed, precision }
                        .Where(o => r.GetResult(o) is { Implicit: false })
                        .Select(o => o.Name)
                        .ToArray();
                    if (ignored.Length > 0)
                        Console.WriteLine(
                            $"note: {string.Join(", ", ignored)} ignored when resuming: the run's config.json stands"
                        );
                }

                var classes =
                    cfg.ClassNames.Length == cfg.NumClasses
                        ? cfg.ClassNames.Skip(1).ToArray()
                        : LabelOptions.Default.Classes.ToArray();
                if (cfg.NumClasses != classes.Length + 1)
                    throw new MaskRcnnException(
                        $"{source}: num_classes is {cfg.NumClasses} but no class_names are given, so the "
                            + $"data is read with the {classes.Length} default classes ({string.Join(", ", classes)}); "
                            + $"set num_classes {classes.Length + 1} and class_names "
                            + $"[background, {string.Join(", ", classes)}] (or your data's classes) in the configuration"
                    );
                var labels = new LabelOptions(classes, r.GetValue(labelKey));
                // The start-up check: every image decoded in full, within the pixel budget (ImageIO) and big enough for
                // the model's resize; what fails is left out and reported here and in RUN/data_problems.json rather
                // than met in the middle of an epoch.
                var resize = cfg.ToTransform();
                Dataset Load(string split) =>
                    Verbs.Resizable(
                        DatasetLoader.LoadSplit(dataDir, split, labels, decode: true),
                        resize,
                        training: true
                    );
                var train = Load("train");
                Dataset? val = Directory.Exists(Path.Combine(dataDir, "val")) ? Load("val") : null;
                var reports = new Dictionary<string, DataReport?>
                {
                    ["train"] = train.Report(),
                    ["val"] = val?.Report(),
                };
                var problems = reports.Values.SelectMany(x => x?.Problems ?? []).ToList();
                string validation = val is null ? "" : $", {val.Count} validation images";
                Console.WriteLine($"data: {train.Count} training images{validation}; {problems.Count} problems");
                foreach (var (split, report) in reports)
                    if (report is { } rep && (rep.ImagesSkipped > 0 || rep.RegionsSkipped > 0))
                        Console.WriteLine($"  {split}: {rep.Describe(reasons: false)}");
                Verbs.PrintProblems(problems, Path.Combine(run, Trainer.DataProblemsFile));
                // Nothing to learn, or nothing to validate on: said now, not after the first epoch.
                if (train.RegionsUsed == 0)
                    throw new MaskRcnnException(
                        $"{dataDir}: the train split has no usable region (of {train.RegionsListed} listed); there is "
                            + $"nothing to learn. The model's classes are {string.Join(", ", classes)}"
                            + (problems.Count > 0 ? $"; first problem: {problems[0].Image}: {problems[0].Message}" : "")
                    );
                if (val is not null && val.RegionsUsed == 0)
                    Console.WriteLine(
                        "note: the val split has no usable region: validation AP, sensitivity and Dice are undefined"
                    );

                torch.manual_seed(cfg.Training.Seed);
                using var model = new MaskRCNN(cfg);
                if (!resuming)
                    Console.WriteLine(StartPoint.Apply(model, r.GetValue(weights) ?? cfg.Training.StartFrom));
                model.to(dev);
                Console.WriteLine(
                    $"model: {cfg.Arch}, {cfg.NumClasses} classes, {model.parameters().Sum(p => p.numel()):N0} "
                        + $"parameters; device {dev}, {torch.get_num_threads()} threads"
                );
                if (cfg.Training.ComputePrecision != ComputePrecision.Float32)
                    Console.WriteLine(
                        $"precision: {cfg.Training.ComputePrecision.ShortName()} mixed precision "
                            + $"({Autocast.Describe()})"
                    );

                if (replacing) // only now that data and model are ready: a failed start leaves the old run as it was
                {
                    // --overwrite with another process's run in the folder is refused by the lock above.
                    var old = Trainer.RunFiles(run);
                    foreach (var f in old)
                        File.Delete(f);
                    if (old.Count > 0)
                        Console.WriteLine($"--overwrite: removed the previous run's {old.Count} files");
                }
                Directory.CreateDirectory(run);
                var json = new JsonSerializerOptions
                {
                    WriteIndented = true,
                    Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
                };
                AtomicFile.WriteAllText(
                    Path.Combine(run, Trainer.DataProblemsFile),
                    JsonSerializer.Serialize(reports, json)
                );

                var trainer = new Trainer(model, train, val, run);
                trainer.Message += m => Console.WriteLine(m);
                trainer.Progress += ProgressPrinter.Print;
                trainer.Validated += v =>
                {
                    if (v.Report is { } rep)
                        Console.WriteLine(
                            $"  validation epoch {v.Epoch + 1}: loss {Undefined.Format(v.Loss)}  bbox AP50 "
                                + $"{Undefined.Format(rep.Bbox.AP50)}  segm AP50 {Undefined.Format(rep.Segm?.AP50)}  "
                                + $"segm AP {Undefined.Format(rep.Segm?.AP)}  sensitivity@{rep.ScoreThreshold} "
                                + $"{Undefined.Format(rep.Sensitivity)}  FP/image {Undefined.Format(rep.FpPerImage, "F2")}  "
                                + $"dice {Undefined.Format(rep.Dice)}"
                        );
                };
                // SIGTERM (timeout, docker stop, job schedulers) is handled as Ctrl+C is: stop after the current step
                // with a resumable checkpoint, and exit with the shell's code for the signal (128 + its number) so that
                // scripts see the run did not finish. A second signal is left to the runtime: it ends the process at
                // once.
                using var cts = new CancellationTokenSource();
                PosixSignal? received = null;
                void OnSignal(PosixSignalContext context)
                {
                    if (received is not null)
                        return;
                    context.Cancel = true;
                    received = context.Signal;
                    cts.Cancel();
                    Console.WriteLine();
                    Console.WriteLine(
                        $"{context.Signal} received: stopping after this step and saving a checkpoint "
                            + "(send it again to stop at once, without one)…"
                    );
                }
                using var onInterrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
                using var onTerminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
                var result = trainer.Run(resuming, cts.Token);
                if (!result.Stopped)
                {
                    Console.WriteLine($"done: {result.FinalModel}");
                    return 0;
                }
                Console.WriteLine(
                    $"stopped{(received is null ? "" : $" by {received}")} before the run finished; "
                        + $"resume with: maskrcnn train --data {dataDir} --out {run} --resume"
                );
                return received == PosixSignal.SIGTERM ? 143 : 130;
            })
        );
        return cmd;
    }

    /// <summary>
    /// What --out may be, checked under the run folder's lock (<see cref="RunLock"/>, taken here and held until the
    /// run ends; another process in the folder is refused with its PID): a folder holding a run only with --resume
    /// (continue it) or --overwrite (replace it), so a forgotten flag does not erase a trained model; --resume needs
    /// the folder and its checkpoint, and creates nothing when they are missing. A new run's folder that the start
    /// fails in is removed again when it is left empty.
    /// </summary>
    static IDisposable LockRunFolder(string run, bool resuming, bool replacing)
    {
        if (resuming && replacing)
            throw new ArgumentException("--resume continues the run in --out, --overwrite replaces it: give one");
        if (File.Exists(run))
            throw new MaskRcnnException($"--out: {run} is a file, not a run folder");
        string last = Path.Combine(run, "checkpoint_last.safetensors");
        if (resuming && !Directory.Exists(run))
            throw new MaskRcnnException($"cannot resume: run folder {run} does not exist");
        if (resuming && !File.Exists(last))
            throw new MaskRcnnException($"cannot resume: {last} does not exist");
        bool created = !Directory.Exists(run);
        var held = RunLock.Acquire(run);
        try
        {
            if (resuming && !File.Exists(last)) // removed before we held the lock
                throw new MaskRcnnException($"cannot resume: {last} does not exist");
            var files = Trainer.RunFiles(run);
            if (!resuming && !replacing && files.Count > 0)
            {
                string some =
                    string.Join(", ", files.Take(3).Select(Path.GetFileName)) + (files.Count > 3 ? ", …" : "");
                throw new MaskRcnnException(
                    $"{run} already holds a training run ({some}): "
                        + "continue it with --resume, or replace it with --overwrite"
                );
            }
        }
        catch
        {
            Release(held, run, created);
            throw;
        }
        return new Releaser(() => Release(held, run, created));
    }

    static void Release(RunLock held, string run, bool created)
    {
        held.Dispose();
        if (created && Directory.Exists(run) && !Directory.EnumerateFileSystemEntries(run).Any())
            Directory.Delete(run);
    }

    sealed class Releaser(Action release) : IDisposable
    {
        bool done;

        public void Dispose()
        {
            if (done)
                return;
            done = true;
            release();
        }
    }
}

/// <summary>A compact progress line every 10 steps (and at epoch ends).</summary>
static class ProgressPrinter
{
    public static void Print(TrainingProgress p)
    {
        if (p.Iteration % 10 != 0 && p.Step != p.StepsPerEpoch)
            return;
        string losses = string.Join(
            " ",
            p.Losses.OrderBy(k => k.Key).Select(kv => $"{kv.Key.Replace("loss_", "")} {kv.Value:F3}")
        );
        Console.WriteLine(
            $"epoch {p.Epoch + 1}/{p.Epochs} step {p.Step}/{p.StepsPerEpoch} [{p.Stage}] loss {p.Loss:F3} ({losses}) "
                + $"lr {p.LearningRate:G3} "
                + $"{p.ImagesPerSecond:F1} img/s ETA {p.Eta:hh\\:mm\\:ss}"
        );
    }
}
