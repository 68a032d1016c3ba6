using System.Diagnostics;
using MaskRcnn.Runtime;
using static TorchSharp.torch;

namespace MaskRcnn.Profiling;

/// <summary>
/// Resident memory over repeated calls, measured two ways.
/// <list type="bullet">
/// <item>As users see it: RSS after every call. Allocators (libtorch's, glibc's per-thread arenas) keep and
/// return memory in bursts, so a single before/after pair swings by tens of per cent; growth is judged on the
/// median RSS of the first and the last tenth of the calls, which a real leak moves and allocator noise does
/// not.</item>
/// <item>What is retained: RSS and the number of live tensors right after <see cref="MemoryRelease.Release"/>,
/// before and after a further half as many calls. Leaked tensors survive a release; cached free memory does not.
/// This comes after the RSS samples because a release empties the allocators' caches, which then take a few
/// hundred calls to fill again and would read as growth.</item>
/// </list>
/// </summary>
/// <param name="GrowthPercent">100 × (median of the last tenth − median of the first tenth) / median of the first
/// tenth</param>
/// <param name="RetainedGrowthPercent">100 × (released RSS after − released RSS before) / released RSS before</param>
/// <param name="MeanCallSeconds">mean time of the sampled calls (what a long batch pays per call, periodic trims
/// included)</param>
public sealed record MemoryGrowthResult(
    int WarmupCalls,
    int Calls,
    double FirstMb,
    double LastMb,
    double MinMb,
    double MaxMb,
    double GrowthPercent,
    int RetainedCalls,
    double RetainedBeforeMb,
    double RetainedAfterMb,
    double RetainedGrowthPercent,
    long LiveTensorsBefore,
    long LiveTensorsAfter,
    double MeanCallSeconds
);

public static class MemoryGrowth
{
    /// <summary>
    /// Runs <paramref name="warmup"/> untracked calls, then <paramref name="calls"/> calls sampling RSS after each,
    /// then releases memory and makes <c>calls / 2</c> more calls between two releases.
    /// </summary>
    public static MemoryGrowthResult Measure(Action call, int calls, int warmup)
    {
        if (calls < 10)
            throw new ArgumentException($"memory growth needs at least 10 calls, got {calls}");
        for (int i = 0; i < warmup; i++)
            call();
        using var process = Process.GetCurrentProcess();
        var samples = new double[calls];
        double seconds = 0;
        for (int i = 0; i < calls; i++)
        {
            long start = Stopwatch.GetTimestamp();
            call();
            seconds += Stopwatch.GetElapsedTime(start).TotalSeconds;
            process.Refresh();
            samples[i] = process.WorkingSet64 / 1e6;
        }
        int retainedCalls = calls / 2;
        var (retainedBefore, tensorsBefore) = Released(process);
        for (int i = 0; i < retainedCalls; i++)
            call();
        var (retainedAfter, tensorsAfter) = Released(process);
        int tenth = Math.Max(1, calls / 10);
        double first = Statistics.Median(samples[..tenth]),
            last = Statistics.Median(samples[^tenth..]);
        return new MemoryGrowthResult(
            warmup,
            calls,
            Math.Round(first, 1),
            Math.Round(last, 1),
            Math.Round(samples.Min(), 1),
            Math.Round(samples.Max(), 1),
            Math.Round(100 * (last - first) / first, 2),
            retainedCalls,
            Math.Round(retainedBefore, 1),
            Math.Round(retainedAfter, 1),
            Math.Round(100 * (retainedAfter - retainedBefore) / retainedBefore, 2),
            tensorsBefore,
            tensorsAfter,
            Math.Round(seconds / calls, 4)
        );
    }

    static (double Mb, long Tensors) Released(Process process)
    {
        MemoryRelease.Release();
        process.Refresh();
        return (process.WorkingSet64 / 1e6, Tensor.TotalCount);
    }
}
