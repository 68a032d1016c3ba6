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
/// <c>maskrcnn benchmark --arch A | --preset P | --config FILE --mode infer|train|gemm …</c>.
/// <para>With <c>--arch</c> (default resnet50-fpn): the reference peer's protocol
/// (../shared/reference/peer/peer_bench.py) on torchvision's sizes: inference times Predict on one image; training
/// times zero_grad + forward + backward + SGD step (lr 0.01, momentum 0.9) on 2 images with 1 and 2 box-shaped
/// targets, the initial weights restored (untimed) before every step.</para>
/// <para>With <c>--preset</c> or <c>--config</c>: that configuration's own model (backbone, FPN width, heads, RoI
/// counts, batch norm), image size and batch (<c>training.images_per_batch</c> images, with 1, 2, 1, … targets), and
/// the trainer's step for one stage of its schedule (<c>--stage</c>, default its last): the stage's layer group
/// trainable, BatchNorm outside it frozen, the trainer's SGD (momentum, weight decay) and gradient clipping;
/// weights and optimizer restored before every step as above.</para>
/// <para><c>--mode gemm</c>, or <c>--gemm</c> with the others: this machine's float32 matrix-product rate at shapes
/// of the configuration (<see cref="GemmRate"/>); with <c>--stages</c>, each stage's FLOP floor at the best of those
/// rates.</para>
/// </summary>
static class BenchmarkVerb
{
    public static Command Create()
    {
        var arch = new Option<string>("--arch")
        {
            Description =
                "resnet18-fpn | resnet34-fpn | resnet50-fpn | resnet101-fpn, at torchvision's sizes (default "
                + "resnet50-fpn; not with --preset or --config)",
            DefaultValueFactory = _ => "resnet50-fpn",
        };
        var preset = new Option<string?>("--preset")
        {
            Description =
                $"time this preset's own model, image size, batch and training step: {string.Join(", ", Presets.Names)}",
        };
        var configFile = new Option<string?>("--config")
        {
            Description = "time this configuration JSON's own model, image size, batch and training step",
        };
        var stage = new Option<string?>("--stage")
        {
            Description =
                $"with --preset/--config, --mode train: the layer group the step trains ({string.Join(", ", LayerGroups.Names)}; "
                + "default: the schedule's last stage)",
        };
        var data = new Option<string?>("--data")
        {
            Description =
                "with --preset/--config: images from this data folder's train split instead of random ones (train: "
                + "the first images_per_batch with their annotations, unaugmented; infer: the first, unless --image)",
        };
        var gemm = new Option<bool>("--gemm")
        {
            Description =
                "also measure this machine's float32 GEMM rate at the configuration's shapes; with --stages, each "
                + "stage's FLOP floor at the best rate",
        };
        var classes = Verbs.Range(
            new Option<int>("--num-classes") { Description = "classes incl. background", DefaultValueFactory = _ => 3 },
            2,
            100_000
        );
        var weights = new Option<string?>("--weights")
        {
            Description =
                "weights (default: random, seeded). --arch: a weights file or run folder; --preset/--config: a start "
                + "point as train takes it (none, imagenet, coco, a weights file or run folder)",
        };
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
        var mode = new Option<string>("--mode")
        {
            Description = "infer, train, or gemm (the GEMM rate alone)",
            Required = true,
        };
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
            "Time inference or a training step (the reference peer's protocol, or a configuration's own); report "
                + "peak memory, FLOPs per stage and the machine's GEMM rate."
        )
        {
            arch,
            preset,
            configFile,
            stage,
            data,
            gemm,
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
                bool Given(Option option) => r.GetResult(option) is { Implicit: false };
                var chosen =
                    r.GetValue(preset) is string presetName ? $"--preset {presetName}"
                    : r.GetValue(configFile) is string file ? $"--config {file}"
                    : null;
                if (r.GetValue(preset) is not null && r.GetValue(configFile) is not null)
                    throw new ArgumentException("--preset and --config both name a configuration: give one");
                foreach (var option in new Option[] { arch, classes, bn })
                    if (chosen is not null && Given(option))
                        throw new ArgumentException(
                            $"{option.Name} builds a model of torchvision's sizes; {chosen} brings its own: give one"
                        );
                if (chosen is null && Given(stage))
                    throw new ArgumentException("--stage needs --preset or --config (a schedule's layer groups)");
                if (chosen is null && Given(data))
                    throw new ArgumentException("--data needs --preset or --config (the peer's protocol is random)");
                string m = r.GetValue(mode)!;
                if (m is not ("infer" or "train" or "gemm"))
                    throw new ArgumentException($"--mode must be infer, train or gemm, not '{m}'");
                Verbs.InitializeTorch(r.GetValue(threads));
                var bench = chosen is null
                    ? ArchCase(
                        r.GetValue(arch)!,
                        r.GetValue(classes),
                        r.GetValue(bn) != "batch",
                        r.GetValue(size),
                        r.GetValue(minSize),
                        r.GetValue(maxSize)
                    )
                    : ConfigCase(
                        r.GetValue(preset),
                        r.GetValue(configFile),
                        r.GetValue(stage),
                        r.GetValue(data),
                        r.GetValue(size),
                        r.GetValue(minSize),
                        r.GetValue(maxSize)
                    );
                var result = new Dictionary<string, object?>();
                var config = bench.Config;
                var precisionName =
                    chosen is not null && m == "train" && !Given(precision)
                        ? config.Training.Precision // the configuration's training precision unless told otherwise
                        : r.GetValue(precision)!;
                var run = new Protocol(
                    r.GetValue(runs),
                    r.GetValue(warmup),
                    r.GetValue(stages),
                    ComputePrecisionNames.Parse(precisionName)
                );
                IReadOnlyList<GemmMeasurement>? rates = null;
                if (m == "gemm" || r.GetValue(gemm))
                {
                    rates = GemmRate
                        .ShapesFor(config, bench.Side, m == "infer" ? 1 : bench.Batch)
                        .Select(shape => GemmRate.Measure(shape, Math.Max(3, run.Runs)))
                        .ToList();
                    result["gemm"] = rates
                        .Select(g => new Dictionary<string, object>
                        {
                            ["shape"] = g.Shape.Name,
                            ["m"] = g.Shape.M,
                            ["k"] = g.Shape.K,
                            ["n"] = g.Shape.N,
                            ["median_s"] = Math.Round(g.MedianSeconds, 6),
                            ["gflop_per_s"] = Math.Round(g.GflopPerSecond, 1),
                        })
                        .ToList();
                    result["gemm_peak_gflop_per_s"] = Math.Round(rates.Max(g => g.GflopPerSecond), 1);
                }
                if (m != "gemm")
                {
                    manual_seed(r.GetValue(seed));
                    using var model = bench.Build(r.GetValue(weights), result);
                    var times = m switch
                    {
                        "infer" => Infer(
                            model,
                            LoadImage(r.GetValue(image) ?? bench.FirstImage(), bench.Side, result),
                            run,
                            r.GetValue(memoryCalls),
                            r.GetValue(memoryWarmup),
                            result
                        ),
                        _ => Train(model, bench, r.GetValue(seed), run, result),
                    };
                    if (result.TryGetValue("stages", out var table) && table is List<Dictionary<string, object>> rows)
                        AddFlopTotals(rows, m, rates, result);
                    result["median_s"] = Math.Round(Statistics.Median(times), 4);
                    result["min_s"] = Math.Round(times.Min(), 4);
                    result["runs"] = times.Select(t => Math.Round(t, 4)).ToList();
                }
                result["rss_mb"] = Math.Round(Process.GetCurrentProcess().WorkingSet64 / 1e6, 1);
                result["threads"] = get_num_threads();
                result["libtorch"] = __version__;
                result["mkl_dispatch"] = MklDispatch.Report?.Status ?? "not run";
                result["precision"] = run.Precision.ShortName();
                result["arch"] = config.Arch;
                result["size"] = bench.Side;
                result["mode"] = m;
                result["bn"] = config.FrozenBatchNorm ? "frozen" : "batch";
                result["preset"] = r.GetValue(preset);
                result["config"] = r.GetValue(configFile);
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
    /// What is timed: the configuration, the random images' side, the batch, and for a configuration's own step the
    /// layer group it trains and the stage's learning rate (null: the peer's protocol, every parameter the model
    /// makes trainable, torch's SGD).
    /// </summary>
    sealed record BenchCase(
        MaskRcnnConfig Config,
        int Side,
        int Batch,
        string? Group,
        double LearningRate,
        string? Data = null
    )
    {
        /// <summary>The data folder's train split, read as <c>train</c> reads it (the configuration's
        /// classes).</summary>
        public Dataset? LoadData()
        {
            if (Data is null)
                return null;
            var classes =
                Config.ClassNames.Length == Config.NumClasses
                    ? Config.ClassNames.Skip(1).ToArray()
                    : LabelOptions.Default.Classes.ToArray();
            var split = DatasetLoader.LoadSplit(Data, "train", new LabelOptions(classes));
            if (split.Count == 0)
                throw new MaskRcnnException($"--data: {Data}/train has no usable images");
            return split;
        }

        /// <summary>The first image of <see cref="Data"/>'s train split, or null (a random image).</summary>
        public string? FirstImage() => LoadData()?.Images[0].Path;

        /// <summary>The model: random (seeded) weights, or <paramref name="weights"/> — for the peer's protocol a
        /// weights file or run folder, for a configuration a start point as <c>train --weights</c> takes it.</summary>
        public MaskRCNN Build(string? weights, Dictionary<string, object?> result)
        {
            if (Group is null)
                return weights is string w
                    ? ModelLoader
                        .Load(
                            w,
                            c =>
                                c with
                                {
                                    MinSize = Config.MinSize,
                                    MaxSize = Config.MaxSize,
                                    FrozenBatchNorm = Config.FrozenBatchNorm,
                                }
                        )
                        .Model
                    : new MaskRCNN(Config);
            var model = new MaskRCNN(Config);
            try
            {
                string start = weights ?? "none";
                if (Directory.Exists(start))
                    start = ModelLoader.ResolveRunDir(start);
                result["weights"] = start == "none" ? "none (random, seeded)" : StartPoint.Apply(model, start);
                return model;
            }
            catch
            {
                model.Dispose();
                throw;
            }
        }
    }

    /// <summary>torchvision's sizes for <paramref name="arch"/> (the peer's protocol): min_size = max_size = the
    /// random image's side (512 unless given), 2 images a step.</summary>
    static BenchCase ArchCase(string arch, int classes, bool frozen, int? size, int? minSize, int? maxSize)
    {
        var config = new MaskRcnnConfig
        {
            Arch = arch,
            NumClasses = classes,
            FrozenBatchNorm = frozen,
            TrainableBackboneLayers = 5,
            MinSize = [size ?? minSize ?? 512],
            MaxSize = size ?? maxSize ?? 512,
        };
        return new BenchCase(config, size ?? minSize ?? 512, 2, null, 0.01);
    }

    /// <summary>
    /// A preset's or configuration file's own case: its sizes (unless --size/--min-size/--max-size change them; the
    /// random images' side is its largest min_size, capped at max_size), its images_per_batch, and the layer group
    /// and learning rate of <paramref name="stage"/> (default: its schedule's last stage).
    /// </summary>
    static BenchCase ConfigCase(
        string? preset,
        string? file,
        string? stage,
        string? data,
        int? size,
        int? minSize,
        int? maxSize
    )
    {
        var config = preset is not null ? Presets.Get(preset) : MaskRcnnConfig.Load(file!);
        if (size is not null || minSize is not null || maxSize is not null)
            config = (
                config with
                {
                    MinSize =
                        size is int s ? [s]
                        : minSize is int n ? [n]
                        : config.MinSize,
                    MaxSize = size ?? maxSize ?? config.MaxSize,
                }
            ).Validate("--size/--min-size/--max-size");
        var t = config.Training;
        var schedule = StageSchedule.Parse(t.Stages, t.Epochs, t.LearningRate);
        string group = stage ?? schedule[^1].Group;
        if (!LayerGroups.IsKnown(group))
            throw new ArgumentException(
                $"--stage: unknown layer group '{group}' (use {string.Join(", ", LayerGroups.Names)})"
            );
        double lr = schedule.FirstOrDefault(x => x.Group == group)?.LearningRate ?? t.LearningRate;
        int side = Math.Min(config.MinSize.Max(), config.MaxSize);
        return new BenchCase(config, side, t.ImagesPerBatch, group, lr, data);
    }

    /// <summary>What a timed step calls around forward and backward: zero_grad, and the optimizer's step (with the
    /// trainer's gradient clipping for a configuration's step).</summary>
    sealed class StepOptimizer(Action zeroGrad, Action step, Action dispose) : IDisposable
    {
        public Action ZeroGrad { get; } = zeroGrad;
        public Action Step { get; } = step;

        public void Dispose() => dispose();
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
    /// A training step: zero_grad, forward, backward and the optimizer's step on the case's random images (image j
    /// with 1 + j mod 2 box targets), from the initial weights and a fresh optimizer (restored untimed before every
    /// step: random weights diverge within a few steps). The peer's protocol: 2 images, every parameter trainable,
    /// torch's SGD (lr 0.01, momentum 0.9). A configuration's step: what <see cref="Trainer"/> does in the case's
    /// stage — the layer group trainable, BatchNorm outside it frozen, its SGD with the configuration's momentum and
    /// weight decay at the stage's learning rate, gradient clipping. Then, if asked, the step's phases and FLOPs.
    /// </summary>
    /// <returns>the timed steps' seconds</returns>
    static List<double> Train(
        MaskRCNN model,
        BenchCase bench,
        int seed,
        Protocol run,
        Dictionary<string, object?> result
    )
    {
        model.train();
        var settings = model.Config.Training;
        if (bench.Group is string group)
        {
            result["stage"] = group;
            result["trainable_params"] = LayerGroups.Apply(model, group);
            LayerGroups.FreezeBatchNormOutside(model, group);
            result["learning_rate"] = bench.LearningRate;
        }
        using var training = ModelCalls.TrainingRun(); // as the trainer does
        int side = bench.Side;
        var gen = new Generator((ulong)seed + 1);
        List<Tensor> images;
        List<TargetTensors> targets;
        if (bench.LoadData() is { } split)
        {
            var samples = Enumerable.Range(0, bench.Batch).Select(j => split.Load(j % split.Count)).ToList();
            images = samples.Select(x => x.Image).ToList();
            targets = samples.Select(x => new TargetTensors(x.Boxes, x.Labels, x.Masks)).ToList();
            result["data"] = samples.Select(x => Path.GetFileName(x.Source.Path)).ToList();
        }
        else
        {
            // The images first, then the targets: the peer's order of random draws.
            images = Enumerable
                .Range(0, bench.Batch)
                .Select(_ => rand(new long[] { 3, side, side }, generator: gen))
                .ToList();
            targets = Enumerable.Range(0, bench.Batch).Select(j => Targets(1 + j % 2, side, gen)).ToList();
        }
        var initial = model.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.clone());
        var parameters = model.parameters().Where(p => p.requires_grad).ToList();
        var times = new List<double>();
        var losses = new List<Dictionary<string, double>>();
        var faults = new List<double>();
        StepOptimizer? current = null;
        StepOptimizer Reset() // untimed: the initial weights and a fresh optimizer
        {
            // Free the previous optimizer's momentum buffers now (the peer's Python frees them when it drops
            // the old SGD), not whenever the GC finalizes them: else every step's new buffers are fresh pages.
            current?.Dispose();
            using (no_grad())
            {
                foreach (var (k, v) in model.state_dict())
                    v.copy_(initial[k]);
            }
            if (bench.Group is null)
            {
                var sgd = optim.SGD(parameters, 0.01, momentum: 0.9);
                return current = new StepOptimizer(sgd.zero_grad, () => sgd.step(), sgd.Dispose);
            }
            var ours = new Sgd(model.named_parameters(), settings.Momentum, settings.WeightDecay)
            {
                LearningRate = bench.LearningRate,
            };
            void Step()
            {
                var trainable = parameters.Where(p => p.grad is not null).ToList();
                if (settings.GradClipNorm > 0 && trainable.Count > 0)
                    nn.utils.clip_grad_norm_(trainable, settings.GradClipNorm);
                ours.Step();
            }
            void Free()
            {
                ours.ZeroGrad();
                foreach (var buffer in ours.State.Values)
                    buffer.Dispose();
            }
            return current = new StepOptimizer(ours.ZeroGrad, Step, Free);
        }
        for (int i = 0; i < run.Calls; i++)
        {
            var optimizer = Reset();
            long faults0 = MemoryRelease.MinorPageFaults();
            var sw = Stopwatch.StartNew();
            using var scope = NewDisposeScope();
            optimizer.ZeroGrad();
            Dictionary<string, Tensor> l;
            using (model.PrecisionScope(run.Precision))
                l = model.Losses(images, targets); // backward outside autocast
            model.Backward(l.Values.Aggregate((a, b) => a + b));
            optimizer.Step();
            double t = sw.Elapsed.TotalSeconds;
            if (i < run.Warmup)
                continue;
            times.Add(t);
            faults.Add(MemoryRelease.MinorPageFaults() - faults0);
            losses.Add(l.ToDictionary(kv => kv.Key, kv => Math.Round((double)kv.Value.item<float>(), 4)));
        }
        result["losses"] = losses;
        result["page_faults_per_step"] = Statistics.Median(faults); // first touches of fresh memory (Linux)
        result["batch"] = bench.Batch;
        result["peak_rss_mb"] = Math.Round(PeakRssMb(), 1); // the timed steps only: stages come after
        if (run.Stages)
        {
            var profiles = new List<IReadOnlyList<StageTime>>();
            for (int i = 0; i < Math.Max(1, run.Runs); i++)
            {
                var optimizer = Reset();
                profiles.Add(
                    TrainingStepProfiler.Profile(
                        model,
                        images,
                        targets,
                        optimizer.ZeroGrad,
                        optimizer.Step,
                        run.Precision
                    )
                );
            }
            result["stages"] = StageTable(profiles);
        }
        current?.Dispose();
        return times;
    }

    /// <summary>
    /// The FLOPs of the stage table in all (inference: <c>gflops</c>; a training step: <c>forward_gflops</c>,
    /// <c>backward_gflops</c>, <c>step_gflops</c>) and, when the GEMM rate was measured, what they would take at its
    /// best rate: each stage's <c>floor_s</c> and the whole <c>flop_floor_s</c>.
    /// </summary>
    static void AddFlopTotals(
        List<Dictionary<string, object>> rows,
        string mode,
        IReadOnlyList<GemmMeasurement>? rates,
        Dictionary<string, object?> result
    )
    {
        double Sum(Func<string, bool> which) =>
            rows.Where(row => which((string)row["stage"])).Sum(row => (double)row["gflops"]);
        double total = Sum(_ => true);
        if (mode == "train")
        {
            result["forward_gflops"] = Math.Round(Sum(s => s.StartsWith("forward:")), 3);
            result["backward_gflops"] = Math.Round(Sum(s => s.StartsWith("backward:")), 3);
            result["step_gflops"] = Math.Round(total, 3);
        }
        else
            result["gflops"] = Math.Round(total, 3);
        if (rates is null)
            return;
        double peak = rates.Max(g => g.GflopPerSecond);
        foreach (var row in rows)
            row["floor_s"] = Math.Round((double)row["gflops"] / peak, 4);
        result["flop_floor_s"] = Math.Round(total / peak, 4);
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
                ["gflops"] = Math.Round(m.Flops / 1e9, 3),
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

    static Tensor LoadImage(string? path, int side, Dictionary<string, object?> result)
    {
        result["image"] = path ?? $"random {side}x{side}";
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
