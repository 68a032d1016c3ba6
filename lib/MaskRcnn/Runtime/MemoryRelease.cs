using System.Runtime.InteropServices;

namespace MaskRcnn.Runtime;

/// <summary>
/// How the process uses glibc's allocator: <see cref="Release"/> hands memory that is free but still mapped back to
/// the operating system (a full .NET collection, finalizing tensor wrappers whose native memory is then freed, then
/// glibc's <c>malloc_trim(0)</c>); <see cref="LimitArenas"/>, <see cref="ReuseBlocksBetweenCalls"/> (with
/// <see cref="AfterInferenceCall"/>) and <see cref="KeepLargeBlocksInHeap"/> tune malloc (see each).
/// <para>
/// Why: training allocates tensors of a different size at every step (the number of proposals, positives and
/// masks varies), so glibc's heap becomes fragmented and keeps free pages resident. Without a trim, resident
/// memory of a cpu-quick run climbed from 0.7 GB to about 2 GB over the first eight epochs before levelling
/// off; with a trim after every epoch it stays flat. A no-op (returning false) where glibc is not the C library.
/// </para>
/// </summary>
public static unsafe class MemoryRelease
{
    static readonly nint LibC = OperatingSystem.IsLinux() && NativeLibrary.TryLoad("libc.so.6", out var libc) ? libc : 0;
    static readonly delegate* unmanaged<nuint, int> MallocTrim = (delegate* unmanaged<nuint, int>)Export("malloc_trim");
    static readonly delegate* unmanaged<int, int, int> MallOpt = (delegate* unmanaged<int, int, int>)Export("mallopt");
    const int M_TRIM_THRESHOLD = -1, M_TOP_PAD = -2, M_MMAP_THRESHOLD = -3, M_MMAP_MAX = -4, M_ARENA_MAX = -8;
    static int _arenasLimited;

    static nint Export(string name) => LibC != 0 && NativeLibrary.TryGetExport(LibC, name, out var f) ? f : 0;

    /// <summary>
    /// Caps glibc's malloc arenas (default: 8 per core, one per thread that meets contention) at
    /// <paramref name="arenas"/>. Each arena keeps its own free memory, so tensors allocated from libtorch's
    /// worker threads, .NET thread-pool threads and the caller spread cached memory over many arenas. Measured
    /// on R50-FPN 512×512 inference, 2 threads: steady RSS 1.8–1.9 GB with the default, 1.1–1.3 GB with 2 arenas, the
    /// same speed. Done once by <see cref="TorchEnvironment.Initialize"/>; skipped when the user set
    /// MALLOC_ARENA_MAX (glibc reads that itself) or where glibc is not the C library.
    /// </summary>
    /// <returns>whether the limit was applied by this call</returns>
    public static bool LimitArenas(int arenas = 2)
    {
        if (MallOpt == null || Environment.GetEnvironmentVariable("MALLOC_ARENA_MAX") is not null) return false;
        if (Interlocked.Exchange(ref _arenasLimited, 1) == 1) return false;
        return MallOpt(M_ARENA_MAX, arenas) == 1;
    }

    /// <summary>
    /// Until the returned scope is disposed, glibc serves large blocks from its heap instead of fresh mmap'd pages
    /// and keeps freed memory there for reuse (M_MMAP_MAX = 0, M_TRIM_THRESHOLD = −1: never trim on free); on
    /// dispose the process's steady limits come back (<see cref="ReuseBlocksBetweenCalls"/>) and the heap is
    /// trimmed. Process-wide; nested scopes share one setting. <see cref="Training.Trainer"/> holds one for a run.
    /// <para>
    /// Why: glibc maps large blocks (activations, gradients, fc6's weight and its gradient) with mmap and unmaps
    /// them on free, and trims the heap top once it exceeds the threshold, so every training step page-faults
    /// and zero-fills hundreds of MB again — expensive on a virtual machine. Measured on 2 cores, R50-FPN
    /// 512×512, a training step of 2 images: 3.1–3.5 s → 2.3–2.5 s; page faults per step ~500 000 → ~0 once
    /// the heap has grown. Resident memory stays at the run's high-water mark (~3.6 GB there) until the scope ends
    /// or <see cref="Release"/> runs (the trainer calls it after every epoch).
    /// MASKRCNN_GLIBC_MALLOC=keep applies it to the whole process (from <see cref="TorchEnvironment.Initialize"/>);
    /// MASKRCNN_GLIBC_MALLOC=default, or tuning glibc's malloc through its own environment variables
    /// (MALLOC_MMAP_MAX_, MALLOC_MMAP_THRESHOLD_, MALLOC_TRIM_THRESHOLD_, GLIBC_TUNABLES), leaves glibc alone
    /// (this scope and <see cref="ReuseBlocksBetweenCalls"/> do nothing); so does a C library other than glibc.
    /// </para>
    /// </summary>
    public static IDisposable KeepLargeBlocksInHeap()
    {
        if (MallOpt == null || UserTunedMalloc()) return NoScope.Instance;
        lock (Gate)
        {
            if (_keepScopes++ == 0) SetKeepLimits();
        }
        return new KeepScope();
    }

    /// <summary>
    /// The process's steady allocator limits, set once by <see cref="TorchEnvironment.Initialize"/> (and restored
    /// when a <see cref="KeepLargeBlocksInHeap"/> scope ends): blocks up to 128 MiB come from glibc's heap (glibc's
    /// own limit is 32 MiB) and up to 256 MiB of free memory at the heap's top stays mapped (glibc: 64 MiB); when more is
    /// free there, a trim on free keeps 256 MiB (M_TOP_PAD; glibc's 128 KiB made the reuse depend on the heap's layout:
    /// 2 000–75 000 page faults per R18-FPN 512 call, 1 000–14 000 with it). So the next inference call reuses the
    /// last one's pages instead of page-faulting and zero-filling fresh ones.
    /// Measured on R50-FPN 512×512 inference, 2 threads: 0.72–0.73 s → 0.65 s per image (the 80 MB mask-head
    /// activations, the 105 MB of pasted masks and the RoIAlign matrices were fresh mmaps in every call); RSS between
    /// calls 0.9–1.3 → ~1.6 GB, flat over 500 calls with <see cref="AfterInferenceCall"/>'s periodic trim; the peak
    /// of a benchmark run 1.3–1.6 GB either way. Bounded, unlike <see cref="KeepLargeBlocksInHeap"/>: larger blocks
    /// are still mmap'd and more free memory is still trimmed.
    /// </summary>
    /// <returns>whether the limits were set (false where glibc is absent or left alone, see <see cref="KeepLargeBlocksInHeap"/>)</returns>
    public static bool ReuseBlocksBetweenCalls()
    {
        if (MallOpt == null || UserTunedMalloc()) return false;
        lock (Gate)
        {
            if (_keepScopes == 0) SetSteadyLimits();
        }
        Volatile.Write(ref _reuseApplied, 1);
        return true;
    }

    /// <summary>
    /// Called after every inference call (<see cref="Modeling.MaskRCNN.Predict(IReadOnlyList{TorchSharp.torch.Tensor})"/>):
    /// under <see cref="ReuseBlocksBetweenCalls"/>' limits (and no <see cref="KeepLargeBlocksInHeap"/> scope), every
    /// <see cref="TrimEveryCalls"/>th call trims glibc's heap (<c>malloc_trim(0)</c>: free pages anywhere in it go
    /// back). Without it, the free holes that calls of different sizes leave between live blocks stay resident and RSS
    /// crept up by 6.6 % over 500 R50-FPN 512 calls; the trim costs the next call one round of page faults (~0.1 s),
    /// ~10 ms per call over the period. Every 50th call was enough for the direct convolutions; with the Winograd
    /// layers' kept filters (<see cref="Modeling.Ops.WinogradConv2d"/>) the heap is larger: R50-FPN 512 over 500
    /// calls, 50 apart: high-water 2.49 GB; 20 apart: RSS +4.2 % and +9.2 % in two runs (high-water 2.07 and 2.54
    /// GB); 10 apart: +1.6 % and +3.1 % (2.21 and 2.0 GB), the mean call ~3 % slower.
    /// </summary>
    public static void AfterInferenceCall()
    {
        if (MallocTrim == null || Volatile.Read(ref _reuseApplied) == 0 || Volatile.Read(ref _keepScopes) > 0) return;
        if (Interlocked.Increment(ref _inferenceCalls) % TrimEveryCalls != 0) return;
        MallocTrim(0);
        Interlocked.Increment(ref _inferenceTrims);
    }

    /// <summary>How often <see cref="AfterInferenceCall"/> trims the heap.</summary>
    public const int TrimEveryCalls = 10;

    /// <summary>How many times <see cref="AfterInferenceCall"/> has trimmed the heap in this process.</summary>
    public static long InferenceTrims => Interlocked.Read(ref _inferenceTrims);
    static long _inferenceCalls, _inferenceTrims;
    static int _reuseApplied;

    /// <summary>
    /// Called by TorchEnvironment.Initialize: MASKRCNN_GLIBC_MALLOC=keep, a <see cref="KeepLargeBlocksInHeap"/> scope
    /// that never ends; otherwise <see cref="ReuseBlocksBetweenCalls"/> (once).
    /// </summary>
    internal static void ApplyProcessWideSetting()
    {
        if (Interlocked.Exchange(ref _processSettingApplied, 1) == 1) return;
        if (MallocMode == "keep") KeepLargeBlocksInHeap();
        else ReuseBlocksBetweenCalls();
    }

    static readonly object Gate = new();
    static int _keepScopes, _processSettingApplied;
    /// <summary>glibc's M_MMAP_MAX default; the steady mmap and trim thresholds and top pad (see <see cref="ReuseBlocksBetweenCalls"/>).</summary>
    const int DefaultMmapMax = 65536, SteadyMmapThreshold = 128 << 20, SteadyTrimThreshold = 256 << 20, SteadyTopPad = 256 << 20;

    static void SetKeepLimits() { MallOpt(M_MMAP_MAX, 0); MallOpt(M_TRIM_THRESHOLD, -1); }      // -1: never trim on free (mallopt(3))

    static void SetSteadyLimits()
    {
        MallOpt(M_MMAP_MAX, DefaultMmapMax);
        MallOpt(M_MMAP_THRESHOLD, SteadyMmapThreshold);
        MallOpt(M_TRIM_THRESHOLD, SteadyTrimThreshold);
        MallOpt(M_TOP_PAD, SteadyTopPad);
    }

    static string? MallocMode => RuntimeOptions.GlibcMalloc;

    static bool UserTunedMalloc() =>
        new[] { "MALLOC_MMAP_MAX_", "MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_" }.Any(v => Environment.GetEnvironmentVariable(v) is not null)
        || (Environment.GetEnvironmentVariable("GLIBC_TUNABLES") ?? "").Contains("glibc.malloc.")
        || MallocMode == "default";

    sealed class KeepScope : IDisposable
    {
        int _disposed;
        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 1) return;
            lock (Gate)
            {
                if (--_keepScopes > 0) return;
                SetSteadyLimits();
            }
            MallocTrim(0);
        }
    }

    sealed class NoScope : IDisposable
    {
        public static readonly NoScope Instance = new();
        public void Dispose() { }
    }

    /// <summary>Minor page faults of this process so far (Linux; −1 elsewhere): first touches of fresh pages.</summary>
    public static long MinorPageFaults()
    {
        try
        {
            if (!OperatingSystem.IsLinux()) return -1;
            var stat = File.ReadAllText("/proc/self/stat");
            return long.Parse(stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[7]);     // field 10, minflt
        }
        catch (Exception e) when (e is IOException or FormatException or UnauthorizedAccessException) { return -1; }
    }

    /// <summary>Collects, then trims the C heap. Call between steps, never while native work is in flight on another thread.</summary>
    /// <returns>whether glibc's malloc_trim ran</returns>
    public static bool Release()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        if (MallocTrim == null) return false;
        MallocTrim(0);
        return true;
    }
}
