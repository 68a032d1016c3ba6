using System.Text.Json;
using MaskRcnn.Config;
using MaskRcnn.Data;
using MaskRcnn.Data.Phantoms;
using MaskRcnn.Modeling;
using MaskRcnn.Profiling;
using MaskRcnn.Runtime;
using MaskRcnn.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace MaskRcnn.Tests.Runtime;

/// <summary>Runs alone: other tests allocating in the same process would blur the resident-memory curve.</summary>
[CollectionDefinition(nameof(MemoryCollection), DisableParallelization = true)]
public sealed class MemoryCollection;

[Collection(nameof(MemoryCollection))]
public class MemoryTests
{
    [Fact]
    [Trait("Category", "Slow")]
    public void Repeated_inference_does_not_grow_resident_memory()
    {
        // Small but complete: every stage, masks pasted. On a model this small, allocator noise is a large share of
        // RSS (glibc's arenas and the test host take a few hundred calls to settle), so the check is on what a
        // release leaves behind over the last 100 calls: leaked tensors survive MemoryRelease, cached free memory
        // does not. The R50 figure (raw RSS over 500 calls) is `benchmark --memory-calls 500` (PERFORMANCE.md).
        manual_seed(5);
        using var model = new MaskRCNN(TinyTraining.Config(side: 64));
        model.eval();
        using var image = rand(3, 64, 64);
        int detections = 0;
        var result = MemoryGrowth.Measure(
            () =>
            {
                using var d = model.Predict(image);
                detections += d.Count;
            },
            calls: 200,
            warmup: 100
        );
        Assert.True(detections > 0, "the mask branch ran");
        Assert.True(
            result.LiveTensorsAfter <= result.LiveTensorsBefore,
            $"live tensors {result.LiveTensorsBefore} → {result.LiveTensorsAfter}"
        );
        Assert.True(
            result.RetainedGrowthPercent < 5,
            $"released RSS {result.RetainedBeforeMb} MB → {result.RetainedAfterMb} MB "
                + $"({result.RetainedGrowthPercent} %) over {result.RetainedCalls} calls; "
                + $"raw RSS {result.FirstMb} → {result.LastMb} MB; "
                + string.Join(
                    " ",
                    File.ReadLines("/proc/self/status").Where(l => l.StartsWith("Rss") || l.StartsWith("Threads"))
                )
        );
    }

    [SkippableFact]
    public void Inference_trims_the_heap_every_tenth_call()
    {
        // Calls reuse each other's large blocks (MemoryRelease.ReuseBlocksBetweenCalls); a trim every
        // TrimEveryCalls calls hands back the free holes in between, which otherwise creep up RSS over a long batch.
        Skip.IfNot(OperatingSystem.IsLinux(), "glibc's heap trim is Linux's");
        Skip.If(RuntimeOptions.GlibcMalloc is not null, "MASKRCNN_GLIBC_MALLOC is set: not the steady limits");
        TorchEnvironment.Initialize();
        MemoryRelease.TuneAllocator(); // as the CLI and the notebooks opt in
        using var model = new MaskRCNN(TinyTraining.Config(side: 32));
        model.eval();
        using var image = rand(3, 32, 32);
        long before = MemoryRelease.InferenceTrims;
        for (int i = 0; i < MemoryRelease.TrimEveryCalls; i++)
            model.Predict(image).Dispose();
        Assert.Equal(before + 1, MemoryRelease.InferenceTrims);
        using (MemoryRelease.KeepLargeBlocksInHeap()) // training's scope: no trims inside it
            for (int i = 0; i < MemoryRelease.TrimEveryCalls; i++)
                model.Predict(image).Dispose();
        Assert.Equal(before + 1, MemoryRelease.InferenceTrims);
    }

    [SkippableFact]
    public void Glibc_trim_is_found_on_linux()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "glibc's malloc_trim is Linux's");
        Assert.True(MemoryRelease.Release(), "malloc_trim not found in libc.so.6");
    }

    [Fact]
    [Trait("Category", "Slow")]
    public void Training_memory_is_stable_across_epochs()
    {
        // Before the end-of-epoch release (MemoryRelease) a cpu-quick run's resident memory climbed from 0.8 to
        // 2.1 GB over eight epochs. Here: a small model, ten epochs, the "epoch" lines of metrics.jsonl.
        using var data = new TestSupport.TempDir();
        using var run = new TestSupport.TempDir();
        PhantomDataset.Write(data.Path, seed: 8, train: 6, val: 0, test: 0, size: 96);
        var config = TinyTraining.Config(side: 96, epochs: 10, steps: 6, seed: 4);
        manual_seed(4);
        using var model = new MaskRCNN(config);
        var trainer = new Trainer(model, DatasetLoader.LoadSplit(data.Path, "train"), null, run.Path);
        trainer.Run();
        var rss = File.ReadLines(trainer.MetricsFile)
            .Select(l => JsonDocument.Parse(l).RootElement)
            .Where(l => l.GetProperty("type").GetString() == "epoch")
            .Select(l => l.GetProperty("rss_mb").GetDouble())
            .ToList();
        Assert.Equal(10, rss.Count);
        double settled = rss.Skip(1).Take(3).Order().ElementAt(1),
            last = rss.TakeLast(3).Order().ElementAt(1);
        Assert.True(last < settled * 1.10, $"resident memory after each epoch (MB): {string.Join(", ", rss)}");
    }
}
