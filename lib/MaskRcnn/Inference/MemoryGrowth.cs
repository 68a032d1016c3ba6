using System.Diagnostics;

namespace MaskRcnn.Inference;

/// <summary>
/// Resident memory over repeated calls. Allocators (libtorch's, glibc's per-thread arenas) keep and return memory
/// in bursts, so a single before/after pair swings by tens of per cent; growth is judged on the median RSS of the
/// first and the last tenth of the calls after warm-up, which a real leak moves and allocator noise does not.
/// </summary>
/// <param name="GrowthPercent">100 × (median of the last tenth − median of the first tenth) / median of the first tenth</param>
public sealed record MemoryGrowthResult(int WarmupCalls, int Calls, double FirstMb, double LastMb, double MinMb, double MaxMb,
                                        double GrowthPercent);

public static class MemoryGrowth
{
    /// <summary>Runs <paramref name="warmup"/> untracked calls, then <paramref name="calls"/> calls sampling RSS after each.</summary>
    public static MemoryGrowthResult Measure(Action call, int calls, int warmup)
    {
        if (calls < 10) throw new ArgumentException($"memory growth needs at least 10 calls, got {calls}");
        for (int i = 0; i < warmup; i++) call();
        var samples = new double[calls];
        using var process = Process.GetCurrentProcess();
        for (int i = 0; i < calls; i++)
        {
            call();
            process.Refresh();
            samples[i] = process.WorkingSet64 / 1e6;
        }
        int tenth = Math.Max(1, calls / 10);
        double first = Median(samples[..tenth]), last = Median(samples[^tenth..]);
        return new MemoryGrowthResult(warmup, calls, Math.Round(first, 1), Math.Round(last, 1), Math.Round(samples.Min(), 1),
                                      Math.Round(samples.Max(), 1), Math.Round(100 * (last - first) / first, 2));
    }

    static double Median(double[] values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
    }
}
