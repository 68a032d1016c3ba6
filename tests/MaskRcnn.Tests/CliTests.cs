namespace MaskRcnn.Tests;

public class CliTests
{
    [Fact]
    public void Version_names_libtorch_device_and_threads()
    {
        var (code, stdout, stderr) = TestSupport.RunCli("version", "--threads", "1");
        Assert.True(code == 0, stderr);
        Assert.Matches(@"libtorch\s+2\.10\.0", stdout);
        Assert.Matches(@"device\s+cpu", stdout);
        Assert.Matches(@"threads\s+1\b", stdout);
        Assert.Matches(@"TorchSharp\s+0\.107\.0", stdout);
    }

    [Fact]
    public void Version_reports_onemkl_s_dispatch_and_bfloat16()
    {
        var (code, stdout, stderr) = TestSupport.RunCli("version");
        Assert.True(code == 0, stderr);
        Assert.Matches(@"oneMKL\s+(\S+):.*Auto branch (\d+)\.", stdout);
        Assert.Matches(@"bf16\s+(available|not available)", stdout);
    }

    [SkippableFact]
    public void The_mkl_dispatch_variable_keeps_onemkl_s_own_choice()
    {
        var (code, stdout, stderr) = TestSupport.RunCli("version");
        Assert.True(code == 0, stderr);
        var steered = System.Text.RegularExpressions.Regex.Match(stdout, @"oneMKL\s+(\S+):.*Auto branch (\d+)\.");
        Assert.True(steered.Success, stdout);
        Skip.If(steered.Groups[1].Value != "applied", "an Intel CPU, or no AVX2: oneMKL's choice is not steered here");

        (code, stdout, stderr) = TestSupport.RunCliWithEnvironment(
            [$"{MaskRcnn.Runtime.MklDispatch.EnvironmentVariable}=vendor"],
            "version"
        );
        Assert.True(code == 0, stderr);
        var own = System.Text.RegularExpressions.Regex.Match(stdout, @"oneMKL\s+vendor:.*Auto branch (\d+)\.");
        Assert.True(own.Success, stdout);
        Assert.NotEqual(own.Groups[1].Value, steered.Groups[2].Value);
    }

    [Fact]
    public void Help_lists_the_verbs()
    {
        var (code, stdout, _) = TestSupport.RunCli("--help");
        Assert.Equal(0, code);
        Assert.Contains("version", stdout);
    }

    [Theory]
    [InlineData("no-such-verb", "--help")]
    [InlineData("no-such-verb")]
    [InlineData("trian", "--data", "x")]
    public void An_unknown_verb_is_named_and_exits_non_zero_even_with_help(params string[] args)
    {
        var (code, stdout, stderr) = TestSupport.RunCli(args);
        Assert.Equal(1, code);
        Assert.StartsWith($"error: unknown verb '{args[0]}'", stderr);
        Assert.Contains("train", stderr); // the verb list
        Assert.DoesNotContain("Usage:", stdout);
    }

    [Fact]
    public void A_known_verb_s_help_still_exits_zero()
    {
        var (code, stdout, _) = TestSupport.RunCli("train", "--help");
        Assert.Equal(0, code);
        Assert.Contains("--data", stdout);
    }

    [SkippableFact]
    public void Unavailable_device_is_a_one_line_error()
    {
        var (code, _, stderr) = TestSupport.RunCli("version", "--device", "cuda");
        Skip.If(code == 0, "a CUDA build on a GPU machine: the device is available");
        Assert.Equal(1, code);
        Assert.StartsWith("error: Device 'cuda'", stderr);
        Assert.DoesNotContain("   at ", stderr);
    }

    [Fact]
    public void Benchmark_infer_reports_times_stages_and_memory_growth()
    {
        // A small model so it stays quick (cpu-quick: 128-channel heads, 20 detections an image — torchvision's
        // sizes run a 100-RoI mask head on every call); the R50 figures live in PERFORMANCE.md, and MemoryTests judges
        // growth.
        string json = Path.Combine(Path.GetTempPath(), $"bench-{Guid.NewGuid():N}.json");
        var (code, _, stderr) = TestSupport.RunCli(
            "benchmark",
            "--preset",
            "cpu-quick",
            "--size",
            "128",
            "--mode",
            "infer",
            "--runs",
            "2",
            "--threads",
            "1",
            "--stages",
            "--memory-calls",
            "10",
            "--memory-warmup",
            "2",
            "--json",
            json
        );
        Assert.True(code == 0, stderr);
        using var doc = System.Text.Json.JsonDocument.Parse(File.ReadAllText(json));
        File.Delete(json);
        var root = doc.RootElement;
        foreach (
            var key in new[]
            {
                "median_s",
                "min_s",
                "runs",
                "detections",
                "peak_rss_mb",
                "threads",
                "libtorch",
                "mkl_dispatch",
            }
        )
            Assert.True(root.TryGetProperty(key, out _), $"missing {key}");
        Assert.Equal(2, root.GetProperty("runs").GetArrayLength());
        Assert.Equal(1, root.GetProperty("threads").GetInt32());

        var stages = root.GetProperty("stages").EnumerateArray().ToList();
        Assert.Equal(9, stages.Count);
        var backbone = stages.Single(s => s.GetProperty("stage").GetString() == "backbone + FPN");
        Assert.True(backbone.GetProperty("gflops").GetDouble() > 1, "backbone FLOPs are counted");
        Assert.InRange(stages.Sum(s => s.GetProperty("share").GetDouble()), 0.99, 1.01);

        var memory = root.GetProperty("memory");
        Assert.Equal(10, memory.GetProperty("calls").GetInt32());
        Assert.True(memory.GetProperty("rss_last_tenth_mb").GetDouble() > 0);
    }

    [Fact]
    public void Benchmark_takes_a_precision_for_inference_and_training()
    {
        // The training run also profiles its step phase by phase (--stages); cpu-quick's small heads keep it quick.
        foreach (var (mode, name) in new[] { ("infer", "bf16"), ("train", "BFloat16") }) // the names a config takes too
        {
            string json = Path.Combine(Path.GetTempPath(), $"bench-{Guid.NewGuid():N}.json");
            var (exit, _, err) = TestSupport.RunCli([
                "benchmark",
                "--preset",
                "cpu-quick",
                "--size",
                "96",
                "--mode",
                mode,
                "--runs",
                "1",
                "--warmup",
                "0",
                "--threads",
                "1",
                "--precision",
                name,
                "--json",
                json,
                .. (mode == "train" ? ["--stages"] : Array.Empty<string>()),
            ]);
            Assert.True(exit == 0, err);
            using (var doc = System.Text.Json.JsonDocument.Parse(File.ReadAllText(json)))
            {
                Assert.Equal("bf16", doc.RootElement.GetProperty("precision").GetString());
                if (mode == "train")
                {
                    var stages = doc.RootElement.GetProperty("stages").EnumerateArray().ToList();
                    Assert.Equal(9, stages.Count);
                    Assert.Contains(
                        stages,
                        s =>
                            s.GetProperty("stage").GetString() == "backward: backbone + FPN"
                            && s.GetProperty("median_s").GetDouble() > 0
                    );
                    Assert.InRange(stages.Sum(s => s.GetProperty("share").GetDouble()), 0.99, 1.01);
                }
            }
            File.Delete(json);
        }
        foreach (string verb in new[] { "benchmark", "train" })
        {
            string[] args =
                verb == "train"
                    ? ["train", "--data", "unused", "--out", "unused", "--precision", "fp16"]
                    : ["benchmark", "--arch", "resnet18-fpn", "--mode", "infer", "--precision", "fp16"];
            var (code, _, stderr) = TestSupport.RunCli(args);
            Assert.NotEqual(0, code);
            Assert.Contains("unknown precision 'fp16'", stderr);
        }
    }

    [Fact]
    public void Benchmark_times_a_configuration_s_own_step_with_flops_and_the_gemm_rate()
    {
        // The tests' small configuration at 64 px, its stage "heads": its own batch (2), size and layer group; FLOPs
        // per phase, the GEMM rate at its shapes and each phase's floor at that rate.
        using var tmp = new TestSupport.TempDir();
        string config = tmp["tiny.json"];
        File.WriteAllText(config, TinyTraining.Config(side: 64).ToJson());
        System.Text.Json.JsonElement Run(params string[] args)
        {
            string json = tmp[$"{Guid.NewGuid():N}.json"];
            var (code, _, stderr) = TestSupport.RunCli([
                "benchmark",
                "--config",
                config,
                "--runs",
                "1",
                "--warmup",
                "0",
                "--threads",
                "1",
                "--json",
                json,
                .. args,
            ]);
            Assert.True(code == 0, stderr);
            using var doc = System.Text.Json.JsonDocument.Parse(File.ReadAllText(json));
            return doc.RootElement.Clone();
        }

        var train = Run("--mode", "train", "--stage", "heads", "--stages", "--gemm");
        Assert.Equal("heads", train.GetProperty("stage").GetString());
        Assert.Equal(2, train.GetProperty("batch").GetInt32());
        Assert.Equal(64, train.GetProperty("size").GetInt32());
        Assert.Equal(config, train.GetProperty("config").GetString());
        Assert.Equal(1, train.GetProperty("runs").GetArrayLength());
        var stages = train.GetProperty("stages").EnumerateArray().ToList();
        Assert.Equal(9, stages.Count);
        double Gflops(string stage) =>
            stages.Single(s => s.GetProperty("stage").GetString() == stage).GetProperty("gflops").GetDouble();
        Assert.True(Gflops("forward: backbone + FPN") > 0);
        // heads: the body is frozen, so the backbone's backward is the FPN's alone, less than its forward
        Assert.InRange(Gflops("backward: backbone + FPN"), 1e-6, Gflops("forward: backbone + FPN"));
        double forward = train.GetProperty("forward_gflops").GetDouble(),
            backward = train.GetProperty("backward_gflops").GetDouble();
        Assert.True(forward > 0 && backward > 0);
        Assert.Equal(forward + backward, train.GetProperty("step_gflops").GetDouble(), 3);
        Assert.Equal(4, train.GetProperty("gemm").GetArrayLength());
        double peak = train.GetProperty("gemm_peak_gflop_per_s").GetDouble();
        Assert.True(peak > 0);
        Assert.Equal((forward + backward) / peak, train.GetProperty("flop_floor_s").GetDouble(), 3);
        Assert.All(stages, s => Assert.True(s.TryGetProperty("floor_s", out _)));

        var gemm = Run("--mode", "gemm");
        Assert.Equal(4, gemm.GetProperty("gemm").GetArrayLength());
        Assert.False(gemm.TryGetProperty("median_s", out _)); // no model was timed
    }

    [SkippableFact]
    [Trait("Category", "Slow")]
    public void Inference_calls_reuse_the_previous_call_s_memory()
    {
        // R18-FPN at 512 px, random weights: 100 detections, so the mask head's activations (80 MB) and the pasted
        // masks (105 MB) are blocks above glibc's own mmap limit, mapped afresh in every call. The CLI opts
        // into the tuned allocator (MemoryRelease.TuneAllocator: ReuseBlocksBetweenCalls), so a call reuses the last
        // one's pages.
        double Faults(string[] env)
        {
            string json = Path.Combine(Path.GetTempPath(), $"bench-{Guid.NewGuid():N}.json");
            var (code, _, stderr) = TestSupport.RunCliWithEnvironment(
                env,
                "benchmark",
                "--arch",
                "resnet18-fpn",
                "--size",
                "512",
                "--mode",
                "infer",
                "--runs",
                "2",
                "--warmup",
                "1",
                "--threads",
                "2",
                "--json",
                json
            );
            Assert.True(code == 0, stderr);
            using var doc = System.Text.Json.JsonDocument.Parse(File.ReadAllText(json));
            File.Delete(json);
            return doc.RootElement.GetProperty("page_faults_per_call").GetDouble();
        }
        Skip.IfNot(OperatingSystem.IsLinux(), "page faults are counted on Linux only");
        double reused = Faults([]),
            glibcDefault = Faults(["MASKRCNN_GLIBC_MALLOC=default"]);
        Assert.True(
            glibcDefault > 50_000,
            $"glibc's default should fault fresh blocks in every call ({glibcDefault} faults)"
        );
        Assert.True(
            reused < glibcDefault / 4,
            $"page faults per call: {reused} reused, {glibcDefault} with glibc's default"
        );
    }

    [SkippableFact]
    [Trait("Category", "Slow")]
    public void Training_steps_reuse_freed_memory_instead_of_faulting_it_in_again()
    {
        // R18-FPN at 512 px, 2 images: the stem's activations are 32 MiB, which glibc maps afresh for every step by
        // default. The trainer and this benchmark keep large blocks in the heap (MemoryRelease.KeepLargeBlocksInHeap).
        // (Benchmark_takes_a_precision_for_inference_and_training profiles a training step phase by phase.)
        System.Text.Json.JsonElement Run(string[] env)
        {
            string json = Path.Combine(Path.GetTempPath(), $"bench-{Guid.NewGuid():N}.json");
            var (code, _, stderr) = TestSupport.RunCliWithEnvironment(
                env,
                [
                    "benchmark",
                    "--arch",
                    "resnet18-fpn",
                    "--size",
                    "512",
                    "--mode",
                    "train",
                    "--runs",
                    "1",
                    "--warmup",
                    "2",
                    "--threads",
                    "2",
                    "--json",
                    json,
                ]
            );
            Assert.True(code == 0, stderr);
            using var doc = System.Text.Json.JsonDocument.Parse(File.ReadAllText(json));
            File.Delete(json);
            return doc.RootElement.Clone();
        }
        Skip.IfNot(OperatingSystem.IsLinux(), "page faults are counted on Linux only");
        var kept = Run([]);
        var glibcDefault = Run(["MASKRCNN_GLIBC_MALLOC=default"]);
        double keptFaults = kept.GetProperty("page_faults_per_step").GetDouble();
        double defaultFaults = glibcDefault.GetProperty("page_faults_per_step").GetDouble();
        Assert.True(
            defaultFaults > 20_000,
            $"glibc's default should fault fresh blocks in every step ({defaultFaults} faults)"
        );
        Assert.True(
            keptFaults < defaultFaults / 5,
            $"page faults per step: {keptFaults} kept in the heap, {defaultFaults} with glibc's default"
        );
    }

    [Fact]
    [Trait("Category", "Slow")]
    public void Train_repeats_a_run_for_the_same_seed_in_a_new_process()
    {
        // Two processes, same data, preset and seed: the same data order, augmentation, sampling and weights, bit for
        // bit. A small data folder: 6 training images (3 steps of 2), 2 to validate at the end.
        using var tmp = new TestSupport.TempDir();
        string data = tmp["data"];
        MaskRcnn.Data.Phantoms.PhantomDataset.Write(data, seed: 9, train: 6, val: 2, test: 0, size: 128);
        byte[] Run(string name)
        {
            var (code, _, stderr) = TestSupport.RunCli(
                "train",
                "--data",
                data,
                "--preset",
                "cpu-quick",
                "--epochs",
                "1",
                "--steps-per-epoch",
                "3",
                "--threads",
                "2",
                "--seed",
                "7",
                "--out",
                tmp[name]
            );
            Assert.True(code == 0, stderr);
            byte[] file = File.ReadAllBytes(Path.Combine(tmp[name], "model_final.safetensors"));
            // safetensors: 8-byte header length, JSON header (with a timestamp), tensor bytes
            long header = BitConverter.ToInt64(file, 0);
            return file[(int)(8 + header)..];
        }
        string Losses(string name) =>
            string.Join(
                "\n",
                File.ReadLines(Path.Combine(tmp[name], "metrics.jsonl"))
                    .Select(l => System.Text.Json.JsonDocument.Parse(l).RootElement)
                    .Where(e => e.GetProperty("type").GetString() == "train")
                    .Select(e => e.GetProperty("losses").GetRawText())
            );

        var first = Run("a");
        var second = Run("b");
        Assert.NotEmpty(Losses("a"));
        Assert.Equal(Losses("a"), Losses("b"));
        Assert.True(first.AsSpan().SequenceEqual(second), "the two runs' weights differ");

        // Resuming keeps the run's config.json and says which options it ignored.
        var (resumed, stdout, err) = TestSupport.RunCli(
            "train",
            "--data",
            data,
            "--out",
            tmp["a"],
            "--resume",
            "--precision",
            "bf16",
            "--seed",
            "8",
            "--threads",
            "2"
        );
        Assert.True(resumed == 0, err);
        Assert.Contains("note: --seed, --precision ignored when resuming", stdout);
        Assert.Contains("\"precision\": \"fp32\"", File.ReadAllText(Path.Combine(tmp["a"], "config.json")));
    }
}
