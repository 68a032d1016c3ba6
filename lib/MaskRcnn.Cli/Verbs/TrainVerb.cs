using System.CommandLine;
using MaskRcnn.Config;
using MaskRcnn.Data;
using MaskRcnn.Modeling;
using MaskRcnn.Runtime;
using MaskRcnn.Training;
using MaskRcnn.Weights;
using TorchSharp;

namespace MaskRcnn.Cli.Verbs;

/// <summary>
/// <c>maskrcnn train --data DIR [--preset NAME | --config FILE] [--weights coco|none|FILE] [--stages SPEC]
/// [--epochs N] [--steps-per-epoch N] --out RUN_DIR [--resume]</c>
/// </summary>
static class TrainVerb
{
    public static Command Create()
    {
        var data = new Option<string>("--data") { Description = "data folder with train/ (and val/) splits", Required = true };
        var preset = new Option<string?>("--preset") { Description = $"configuration preset: {string.Join(", ", Presets.Names)} (default cpu-quick)" };
        var config = new Option<string?>("--config") { Description = "configuration JSON (as written to RUN_DIR/config.json)" };
        var weights = new Option<string?>("--weights")
        {
            Description = "start point: none (from scratch), coco (torchvision COCO weights), imagenet (ML.NET's ImageNet ResNet-18 " +
                          "backbone, for arch resnet18-mlnet-fpn), or a weights/checkpoint file (default: the config's " +
                          "training.start_from: imagenet for the walkthrough preset, none for the others)",
        };
        var stages = new Option<string?>("--stages") { Description = "stage schedule, e.g. heads:10,4+:10,all:10@0.0001" };
        var epochs = Verbs.Range(new Option<int?>("--epochs") { Description = "epochs (when no stage schedule)" }, 1, 100_000);
        var steps = Verbs.Range(new Option<int?>("--steps-per-epoch") { Description = "steps per epoch (0: one pass over the data)" }, 0, 10_000_000);
        var outDir = new Option<string>("--out") { Description = "run folder: checkpoints, metrics.jsonl, TensorBoard events, final model", Required = true };
        var resume = new Option<bool>("--resume") { Description = "continue from RUN_DIR/checkpoint_last.safetensors" };
        var device = new Option<string>("--device") { Description = "cpu, cuda, cuda:N or auto", DefaultValueFactory = _ => "cpu" };
        var threads = Verbs.ThreadsOption();
        var seed = new Option<int?>("--seed") { Description = "random seed (default: the config's)" };
        var precision = Verbs.PrecisionOption(
            "fp32 or bf16: training steps' forward passes under bfloat16 autocast (mixed precision; ~1.6x faster " +
            "on CPUs with AVX512_BF16/AMX). Default: the config's (fp32)", defaultValue: null);
        var cmd = new Command("train", "Train Mask R-CNN on a data folder (Ctrl+C stops after the current step and saves a resumable checkpoint).")
        {
            data, preset, config, weights, stages, epochs, steps, outDir, resume, device, threads, seed, precision,
        };
        cmd.SetAction(r => Verbs.Run(() =>
        {
            TorchEnvironment.Initialize(r.GetValue(threads));
            var dev = TorchEnvironment.ResolveDevice(r.GetValue(device));
            string run = r.GetValue(outDir)!;
            bool resuming = r.GetValue(resume);
            MaskRcnnConfig cfg;
            if (resuming && File.Exists(Path.Combine(run, "config.json"))) cfg = MaskRcnnConfig.Load(Path.Combine(run, "config.json"));
            else if (r.GetValue(config) is string file) cfg = MaskRcnnConfig.Load(file);
            else cfg = Presets.Get(r.GetValue(preset) ?? "cpu-quick");
            if (!resuming)
            {
                var t = cfg.Training;
                if (r.GetValue(stages) is string st) t = t with { Stages = st };
                if (r.GetValue(epochs) is int e) t = t with { Epochs = e, Stages = r.GetValue(stages) ?? "" };
                if (r.GetValue(steps) is int sp) t = t with { StepsPerEpoch = sp };
                if (r.GetValue(seed) is int sd) t = t with { Seed = sd };
                if (r.GetValue(precision) is string pr) t = t with { Precision = ComputePrecisionNames.Parse(pr).ShortName() };
                cfg = (cfg with { Training = t }).Validate("training configuration");
            }
            else
            {
                var ignored = new Option[] { stages, epochs, steps, seed, precision }.Where(o => r.GetResult(o) is { Implicit: false })
                    .Select(o => o.Name).ToArray();
                if (ignored.Length > 0)
                    Console.WriteLine($"note: {string.Join(", ", ignored)} ignored when resuming: the run's config.json stands");
            }

            var classes = cfg.ClassNames.Length == cfg.NumClasses ? cfg.ClassNames.Skip(1).ToArray() : LabelOptions.Default.Classes.ToArray();
            var labels = new LabelOptions(classes);
            var train = DatasetLoader.LoadSplit(r.GetValue(data)!, "train", labels);
            Dataset? val = Directory.Exists(Path.Combine(r.GetValue(data)!, "val")) ? DatasetLoader.LoadSplit(r.GetValue(data)!, "val", labels) : null;
            Console.WriteLine($"data: {train.Count} training images{(val is null ? "" : $", {val.Count} validation images")}; {train.Problems.Count + (val?.Problems.Count ?? 0)} problems");
            foreach (var p in train.Problems.Concat(val?.Problems ?? []).Take(5)) Console.WriteLine($"  {p}");

            torch.manual_seed(cfg.Training.Seed);
            using var model = new MaskRCNN(cfg);
            if (!resuming) Console.WriteLine(StartPoint.Apply(model, r.GetValue(weights) ?? cfg.Training.StartFrom));
            model.to(dev);
            Console.WriteLine($"model: {cfg.Arch}, {cfg.NumClasses} classes, {model.parameters().Sum(p => p.numel()):N0} parameters; device {dev}, {torch.get_num_threads()} threads");
            if (cfg.Training.ComputePrecision != ComputePrecision.Float32)
                Console.WriteLine($"precision: {cfg.Training.ComputePrecision.ShortName()} mixed precision ({Autocast.Describe()})");

            var trainer = new Trainer(model, train, val, run);
            trainer.Message += m => Console.WriteLine(m);
            trainer.Progress += ProgressPrinter.Print;
            trainer.Validated += v =>
            {
                if (v.Report is { } rep)
                    Console.WriteLine($"  validation epoch {v.Epoch + 1}: loss {v.Loss:F3}  bbox AP50 {rep.Bbox.AP50:F3}  segm AP50 {rep.Segm?.AP50:F3}  segm AP {rep.Segm?.AP:F3}  " +
                                      $"sensitivity@{rep.ScoreThreshold} {rep.Sensitivity:F3}  FP/image {rep.FpPerImage:F2}  dice {rep.Dice:F3}");
            };
            using var cts = new CancellationTokenSource();
            ConsoleCancelEventHandler onCancel = (_, e) => { e.Cancel = true; cts.Cancel(); Console.WriteLine("\nstopping after this step…"); };
            Console.CancelKeyPress += onCancel;
            try
            {
                var result = trainer.Run(resuming, cts.Token);
                Console.WriteLine(result.Stopped ? $"stopped; resume with: train --data {r.GetValue(data)} --out {run} --resume" : $"done: {result.FinalModel}");
            }
            finally { Console.CancelKeyPress -= onCancel; }
            return 0;
        }));
        return cmd;
    }
}

/// <summary>A compact progress line every 10 steps (and at epoch ends).</summary>
static class ProgressPrinter
{
    public static void Print(TrainingProgress p)
    {
        if (p.Iteration % 10 != 0 && p.Step != p.StepsPerEpoch) return;
        string losses = string.Join(" ", p.Losses.OrderBy(k => k.Key).Select(kv => $"{kv.Key.Replace("loss_", "")} {kv.Value:F3}"));
        Console.WriteLine($"epoch {p.Epoch + 1}/{p.Epochs} step {p.Step}/{p.StepsPerEpoch} [{p.Stage}] loss {p.Loss:F3} ({losses}) lr {p.LearningRate:G3} " +
                          $"{p.ImagesPerSecond:F1} img/s ETA {p.Eta:hh\\:mm\\:ss}");
    }
}
