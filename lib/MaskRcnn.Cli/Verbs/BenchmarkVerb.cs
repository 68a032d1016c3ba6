using System.CommandLine;
using System.Diagnostics;
using System.Text.Json;
using MaskRcnn.Config;
using MaskRcnn.Data;
using MaskRcnn.Modeling;
using MaskRcnn.Modeling.RoiHeads;
using MaskRcnn.Profiling;
using MaskRcnn.Runtime;
using MaskRcnn.Training;
using MaskRcnn.Weights;
using TorchSharp;
using static TorchSharp.torch;

namespace MaskRcnn.Cli.Verbs;

/// <summary>
/// <c>maskrcnn benchmark --arch A [--num-classes N] [--weights FILE] [--image FILE] [--size N | --min-size N --max-size
/// N] --mode infer|train [--runs K] [--warmup W] [--threads T] [--precision fp32|bf16] [--json OUT]</c>, following the
/// reference peer's protocol (../shared/reference/peer/peer_bench.py): inference times Predict on one image; training
/// times zero_grad + forward + backward + SGD step (lr 0.01, momentum 0.9) on 2 images with 1 and 2 box-shaped targets,
/// the initial weights restored (untimed) before every step.
/// </summary>
static class BenchmarkVerb
{
    public static Command Create()
    {
        var arch = new Option<string>("--arch")
        {
            Description = "resnet18-fpn | resnet34-fpn | resnet50-fpn | resnet101-fpn",
            DefaultValueFactory = _ => "resnet50-fpn",
        };
        var classes = Verbs.Range(
            new Option<int>("--num-classes") { Description = "classes incl. background", DefaultValueFactory = _ => 3 },
            2,
            100_000
        );
        var weights = new Option<string?>("--weights") { Description = "weights (default: random, seeded)" };
        var image = new Option<string?>("--image")
        {
            Description = "image file, or a torch.save'd {\"image\": [3,H,W]} .pt (default: random)",
        };
        var size = Verbs.Range(
            new Option<int?>("--size") { Description = "min_size = max_size = N (and the random image's side)" },
            32,
            MaskRcnnConfig.MaxImageSide,
            Verbs.SizeBudget
        );
        var minSize = Verbs.Range(new Option<int?>("--min-size"), 32, MaskRcnnConfig.MaxImageSide, Verbs.SizeBudget);
        var maxSize = Verbs.Range(new Option<int?>("--max-size"), 32, MaskRcnnConfig.MaxImageSide, Verbs.SizeBudget);
        var mode = new Option<string>("--mode") { Description = "infer or train", Required = true };
        var runs = Verbs.Range(new Option<int>("--runs") { DefaultValueFactory = _ => 5 }, 1, 100_000);
        var warmup = Verbs.Range(new Option<int>("--warmup") { DefaultValueFactory = _ => 1 }, 0, 100_000);
        var threads = Verbs.ThreadsOption();
        var bn = new Option<string>("--bn")
        {
            Description =
                "frozen (FrozenBatchNorm2d) or batch (BatchNorm2d, as torchvision builds a model without weights)",
            DefaultValueFactory = _ => "frozen",
        };
        var seed = new Option<int>("--seed") { DefaultValueFactory = _ => 0 };
        var precision = Verbs.InferencePrecisionOption();
        var json = new Option<string?>("--json") { Description = "write the result here (also printed)" };
        var stages = new Option<bool>("--stages")
        {
            Description =
                "also time each stage, median over --runs more runs (infer: and count its FLOPs; train: forward "
                + "stages, backward in three parts, optimizer step)",
        };
        var memoryCalls = Verbs.Range(
            new Option<int>("--memory-calls")
            {
                Description =
                    "infer: after the timed runs, make N more Predict calls and report the RSS growth (target < 5 %), "
                    + "then N/2 more between two memory releases (what is retained)",
            },
            0,
            1_000_000
        );
        var memoryWarmup = Verbs.Range(
            new Option<int>("--memory-warmup")
            {
                Description = "untracked Predict calls before --memory-calls (allocators settle)",
                DefaultValueFactory = _ => 100,
            },
            0,
            1_000_000
        );
        var cmd = new Command(
            "benchmark",
            "Time inference or a training step (the reference peer's protocol); report peak memory."
        )
        {
            arch,
            classes,
            weights,
            image,
            size,
            minSize,
            maxSize,
            mode,
            runs,
            warmup,
            threads,
            bn,
            seed,
            json,
            stages,
            memoryCalls,
            memoryWarmup,
            precision,
        };
        cmd.SetAction(r =>
            Verbs.Run(() =>
            {
                Verbs.InitializeTorch(r.GetValue(threads));
                int side = r.GetValue(size) ?? r.GetValue(minSize) ?? 512;
                var config = new MaskRcnnConfig
                {
                    Arch = r.GetValue(arch)!,
                    NumClasses = r.GetValue(classes),
                    FrozenBatchNorm = r.GetValue(bn) != "batch",
                    TrainableBackboneLayers = 5,
                    MinSize = [r.GetValue(size) ?? r.GetValue(minSize) ?? 512],
                    MaxSize = r.GetValue(size) ?? r.GetValue(maxSize) ?? 512,
                };
                manual_seed(r.GetValue(seed));
                MaskRCNN model = r.GetValue(weights) is string w
                    ? ModelLoader
                        .Load(
                            w,
                            c =>
                                c with
                                {
                                    MinSize = config.MinSize,
                                    MaxSize = config.MaxSize,
                                    FrozenBatchNorm = config.FrozenBatchNorm,
                                }
                        )
                        .Model
                    : new MaskRCNN(config);
                using var _ = model;
                var run = new Protocol(
                    r.GetValue(runs),
                    r.GetValue(warmup),
                    r.GetValue(stages),
                    ComputePrecisionNames.Parse(r.GetValue(precision)!)
                );
                var result = new Dictionary<string, object?>();
                string m = r.GetValue(mode)!;
                var times = m switch
                {
                    "infer" => Infer(
                        model,
                        LoadImage(r.GetValue(image), side),
                        run,
                        r.GetValue(memoryCalls),
                        r.GetValue(memoryWarmup),
                        result
                    ),
                    "train" => Train(model, side, r.GetValue(seed), run, result),
                    _ => throw new ArgumentException($"--mode must be infer or train, not '{m}'"),
                };

                result["median_s"] = Math.Round(Statistics.Median(times), 4);
                result["min_s"] = Math.Round(times.Min(), 4);
                result["runs"] = times.Select(t => Math.Round(t, 4)).ToList();
                result["rss_mb"] = Math.Round(Process.GetCurrentProcess().WorkingSet64 / 1e6, 1);
                result["threads"] = get_num_threads();
                result["libtorch"] = __version__;
                result["mkl_dispatch"] = MklDispatch.Report?.Status ?? "not run";
                result["precision"] = run.Precision.ShortName();
                result["arch"] = config.Arch;
                result["size"] = side;
                result["mode"] = m;
                result["bn"] = r.GetValue(bn);
                string text = JsonSerializer.Serialize(result);
                Console.WriteLine(text);
                if (r.GetValue(json) is string path)
                    MaskRcnn.IO.AtomicFile.WriteAllText(path, text);
                return 0;
            })
        );
        return cmd;
    }

    /// <summary>The protocol's counts: warm-up calls (untimed), timed runs, whether to profile stages, the
    /// precision.</summary>
    sealed record Protocol(int Runs, int Warmup, bool Stages, ComputePrecision Precision)
    {
        public int Calls => Warmup + Runs;
    }

    /// <summary>
    /// Inference: Predict on one image, timed after the warm-up; the detections of the last call, page faults and peak
    /// memory; then, if asked, the stage table and the memory over more calls.
    /// </summary>
    /// <returns>the timed runs' seconds</returns>
    static List<double> Infer(
        MaskRCNN model,
        Tensor image,
        Protocol run,
        int memoryCalls,
        int memoryWarmup,
        Dictionary<string, object?> result
    )
    {
        model.eval();
        model.Precision = run.Precision;
        var times = new List<double>();
        var detections = new List<int>();
        var faults = new List<double>();
        for (int i = 0; i < run.Calls; i++)
        {
            long faults0 = MemoryRelease.MinorPageFaults();
            var sw = Stopwatch.StartNew();
            using var d = model.Predict(image);
            double t = sw.Elapsed.TotalSeconds;
            if (i < run.Warmup)
                continue;
            times.Add(t);
            faults.Add(MemoryRelease.MinorPageFaults() - faults0); // the previous call's results are freed by now
            detections.Add(d.Count);
            if (i == run.Calls - 1)
                result["last_detections"] = LastDetections(d);
        }
        result["detections"] = detections;
        result["page_faults_per_call"] = Statistics.Median(faults); // first touches of fresh memory (Linux)
        result["peak_rss_mb"] = Math.Round(PeakRssMb(), 1); // the timed runs only: stages and memory calls come after
        if (run.Stages)
        {
            var profiles = Enumerable.Range(0, Math.Max(1, run.Runs)).Select(_ => StageProfiler.Profile(model, image));
            result["stages"] = StageTable(profiles.ToList());
        }
        if (memoryCalls > 0)
            result["memory"] = MemoryGrowth(model, image, memoryCalls, memoryWarmup);
        return times;
    }

    static object LastDetections(Detections d)
    {
        var (b, l, s) = d.ToArrays();
        return Enumerable
            .Range(0, b.Length)
            .Select(k => new
            {
                box = b[k].Select(v => Math.Round(v, 4)),
                label = l[k],
                score = Math.Round(s[k], 4),
            })
            .ToList();
    }

    /// <summary>
    /// A training step as the peer times it: zero_grad, forward, backward and an SGD step (lr 0.01, momentum 0.9) on
    /// two random images with one and two box targets, from the initial weights and a fresh optimizer (restored untimed
    /// before every step); then, if asked, the step's phases.
    /// </summary>
    /// <returns>the timed steps' seconds</returns>
    static List<double> Train(MaskRCNN model, int side, int seed, Protocol run, Dictionary<string, object?> result)
    {
        model.train();
        using var training = ModelCalls.TrainingRun(); // as the trainer does
        var gen = new Generator((ulong)seed + 1);
        var images = new[]
        {
            rand(new long[] { 3, side, side }, generator: gen),
            rand(new long[] { 3, side, side }, generator: gen),
        };
        var targets = new[] { Targets(1, side, gen), Targets(2, side, gen) };
        var initial = model.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.clone());
        var parameters = model.parameters().Where(p => p.requires_grad).ToList();
        var times = new List<double>();
        var losses = new List<Dictionary<string, double>>();
        var faults = new List<double>();
        optim.Optimizer? current = null;
        optim.Optimizer Reset() // untimed: the initial weights and a fresh optimizer
        {
            // Free the previous optimizer's momentum buffers now (the peer's Python frees them when it drops
            // the old SGD), not whenever the GC finalizes them: else every step's new buffers are fresh pages.
            current?.Dispose();
            using (no_grad())
            {
                foreach (var (k, v) in model.state_dict())
                    v.copy_(initial[k]);
            }
            return current = optim.SGD(parameters, 0.01, momentum: 0.9);
        }
        for (int i = 0; i < run.Calls; i++)
        {
            var optimizer = Reset();
            long faults0 = MemoryRelease.MinorPageFaults();
            var sw = Stopwatch.StartNew();
            using var scope = NewDisposeScope();
            optimizer.zero_grad();
            Dictionary<string, Tensor> l;
            using (model.PrecisionScope(run.Precision))
                l = model.Losses(images, targets); // backward outside autocast
            model.Backward(l.Values.Aggregate((a, b) => a + b));
            optimizer.step();
            double t = sw.Elapsed.TotalSeconds;
            if (i < run.Warmup)
                continue;
            times.Add(t);
            faults.Add(MemoryRelease.MinorPageFaults() - faults0);
            losses.Add(l.ToDictionary(kv => kv.Key, kv => Math.Round((double)kv.Value.item<float>(), 4)));
        }
        result["losses"] = losses;
        result["page_faults_per_step"] = Statistics.Median(faults); // first touches of fresh memory (Linux)
        result["batch"] = 2;
        result["peak_rss_mb"] = Math.Round(PeakRssMb(), 1); // the timed steps only: stages come after
        if (run.Stages)
        {
            var profiles = new List<IReadOnlyList<StageTime>>();
            for (int i = 0; i < Math.Max(1, run.Runs); i++)
                profiles.Add(TrainingStepProfiler.Profile(model, images, targets, Reset(), run.Precision));
            result["stages"] = StageTable(profiles);
        }
        current?.Dispose();
        return times;
    }

    /// <summary>Median time of each stage over the profiles, with its FLOPs (where counted) and share of the
    /// total.</summary>
    static List<Dictionary<string, object>> StageTable(IReadOnlyList<IReadOnlyList<StageTime>> profiles)
    {
        var medians = profiles[0]
            .Select(
                (stage, i) => (stage.Stage, Seconds: Statistics.Median(profiles.Select(p => p[i].Seconds)), stage.Flops)
            )
            .ToList();
        double total = medians.Sum(m => m.Seconds);
        return medians
            .Select(m => new Dictionary<string, object>
            {
                ["stage"] = m.Stage,
                ["median_s"] = Math.Round(m.Seconds, 4),
                ["gflops"] = Math.Round(m.Flops / 1e9, 2),
                ["share"] = Math.Round(m.Seconds / total, 3),
                ["gflop_per_s"] = m.Seconds > 0 ? Math.Round(m.Flops / 1e9 / m.Seconds, 1) : 0,
            })
            .ToList();
    }

    /// <summary>RSS over <paramref name="calls"/> more Predict calls after <paramref name="warmup"/> untracked
    /// ones.</summary>
    static Dictionary<string, object> MemoryGrowth(MaskRCNN model, Tensor image, int calls, int warmup)
    {
        var r = Profiling.MemoryGrowth.Measure(
            () =>
            {
                using var d = model.Predict(image);
            },
            calls,
            warmup
        );
        double peak = Math.Round(PeakRssMb(), 1);
        return new Dictionary<string, object>
        {
            ["warmup_calls"] = r.WarmupCalls,
            ["calls"] = r.Calls,
            ["rss_first_tenth_mb"] = r.FirstMb,
            ["rss_last_tenth_mb"] = r.LastMb,
            ["rss_min_mb"] = r.MinMb,
            ["rss_max_mb"] = r.MaxMb,
            ["growth_pct"] = r.GrowthPercent,
            ["within_5_pct"] = r.GrowthPercent < 5,
            ["retained_calls"] = r.RetainedCalls,
            ["retained_before_mb"] = r.RetainedBeforeMb,
            ["retained_after_mb"] = r.RetainedAfterMb,
            ["retained_growth_pct"] = r.RetainedGrowthPercent,
            ["live_tensors_before"] = r.LiveTensorsBefore,
            ["live_tensors_after"] = r.LiveTensorsAfter,
            ["mean_call_s"] = r.MeanCallSeconds,
            ["peak_rss_mb"] = peak, // high-water mark over the whole process, these calls included
        };
    }

    static Tensor LoadImage(string? path, int side)
    {
        if (path is null)
            return rand(3, side, side);
        if (path.EndsWith(".pt") || path.EndsWith(".pth"))
            return StateDicts.Read(path).TryGetValue("image", out var t)
                ? t
                : throw new ArgumentException($"{path} has no 'image' tensor");
        return ImageIO.ReadTensor(path);
    }

    /// <summary>The peer's targets: k random boxes 20–40 % of the side, box-filled masks, labels 1–2.</summary>
    static TargetTensors Targets(int k, int size, Generator gen)
    {
        var boxes = new List<float>();
        var masks = zeros(new long[] { k, size, size }, dtype: ScalarType.Byte);
        for (int j = 0; j < k; j++)
        {
            float x1 = rand(1, generator: gen).item<float>() * 0.6f * size,
                y1 = rand(1, generator: gen).item<float>() * 0.6f * size;
            float w = (0.2f + 0.2f * rand(1, generator: gen).item<float>()) * size,
                h = (0.2f + 0.2f * rand(1, generator: gen).item<float>()) * size;
            float x2 = Math.Min(x1 + w, size - 1f),
                y2 = Math.Min(y1 + h, size - 1f);
            boxes.AddRange([x1, y1, x2, y2]);
            masks[j, (int)y1..((int)y2 + 1), (int)x1..((int)x2 + 1)] = 1;
        }
        var labels = randint(1, 3, new long[] { k }, generator: gen, dtype: int64);
        return new TargetTensors(tensor(boxes.ToArray()).view(k, 4), labels, masks);
    }

    /// <summary>Peak resident set (VmHWM) in MB on Linux; the current working set elsewhere.</summary>
    public static double PeakRssMb()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/self/status"))
                if (line.StartsWith("VmHWM:"))
                    return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]) / 1024.0;
        }
        catch (IOException) { }
        return Process.GetCurrentProcess().PeakWorkingSet64 / 1e6;
    }
}
