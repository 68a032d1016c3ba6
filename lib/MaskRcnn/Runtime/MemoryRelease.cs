using System.Runtime.InteropServices;

namespace MaskRcnn.Runtime;

/// <summary>
/// How the process uses glibc's allocator. Nothing here changes malloc until the process opts in with
/// <see cref="TuneAllocator"/> (the CLI and notebooks/setup.csx do, after <see cref="TorchEnvironment.Initialize"/>):
/// arenas capped (<see cref="LimitArenas"/>), large blocks reused between inference calls with a periodic trim
/// (<see cref="ReuseBlocksBetweenCalls"/>, <see cref="AfterInferenceCall"/>), kept in the heap while training
/// (<see cref="KeepLargeBlocksInHeap"/>) and trimmed after every training epoch (<see cref="AfterTrainingEpoch"/>).
/// <see cref="Release"/> hands free but mapped memory back to the operating system whenever it is called.
/// <para>
/// Why: libtorch's tensors are glibc's blocks, and glibc's defaults suit neither a model whose large activations
/// come back at every call nor training, whose tensors change size at every step and fragment the heap. What each
/// setting measured is in PERFORMANCE.md (Memory). Where glibc is not the C library every call is a no-op.
/// </para>
/// </summary>
public static unsafe class MemoryRelease
{
    static readonly nint LibC =
        OperatingSystem.IsLinux() && NativeLibrary.TryLoad("libc.so.6", out var libc) ? libc : 0;
    static readonly delegate* unmanaged<nuint, int> MallocTrim = (delegate* unmanaged<nuint, int>)Export("malloc_trim");
    static readonly delegate* unmanaged<int, int, int> MallOpt = (delegate* unmanaged<int, int, int>)Export("mallopt");
    const int M_TRIM_THRESHOLD = -1,
        M_TOP_PAD = -2,
        M_MMAP_THRESHOLD = -3,
        M_MMAP_MAX = -4,
        M_ARENA_MAX = -8;
    static int _arenasLimited,
        _tuned;

    static nint Export(string name) => LibC != 0 && NativeLibrary.TryGetExport(LibC, name, out var f) ? f : 0;

    /// <summary>
    /// Opts this process into the allocator policy: <see cref="LimitArenas"/>, then the steady limits of
    /// <see cref="ReuseBlocksBetweenCalls"/> with a heap trim after every <see cref="TrimEveryCalls"/>th inference call
    /// (or, with MASKRCNN_GLIBC_MALLOC=keep, <see cref="KeepLargeBlocksInHeap"/> for the whole process), and lets the
    /// trainer's <see cref="KeepLargeBlocksInHeap"/> scope and <see cref="AfterTrainingEpoch"/> act. Process-wide and
    /// idempotent; call it once at start-up, before the first model call.
    /// </summary>
    public static void TuneAllocator()
    {
        if (Interlocked.Exchange(ref _tuned, 1) == 1)
            return;
        LimitArenas();
        if (MallocMode == "keep")
            KeepLargeBlocksInHeap();
        else
            ReuseBlocksBetweenCalls();
    }

    /// <summary>Whether <see cref="TuneAllocator"/> has run in this process.</summary>
    public static bool IsTuned => Volatile.Read(ref _tuned) == 1;

    /// <summary>
    /// Caps glibc's malloc arenas (default: 8 per core, one per thread that meets contention) at
    /// <paramref name="arenas"/>: each arena keeps its own free memory, and libtorch's workers, .NET's thread pool and
    /// the caller would spread it over many. Once per process; skipped when the user set MALLOC_ARENA_MAX (glibc
    /// reads that itself).
    /// </summary>
    /// <returns>whether the limit was applied by this call</returns>
    public static bool LimitArenas(int arenas = 2)
    {
        if (MallOpt == null || RuntimeOptions.MallocArenaMaxSet)
            return false;
        if (Interlocked.Exchange(ref _arenasLimited, 1) == 1)
            return false;
        return MallOpt(M_ARENA_MAX, arenas) == 1;
    }

    /// <summary>
    /// In a tuned process (<see cref="TuneAllocator"/>), until the returned scope is disposed: glibc serves large
    /// blocks from its heap instead of fresh mmap'd pages and never trims on free (M_MMAP_MAX = 0, M_TRIM_THRESHOLD =
    /// −1), so a training step reuses the last step's pages instead of page-faulting them in again; on dispose the
    /// steady limits come back and the heap is trimmed. Resident memory stays at the high-water mark meanwhile. Nested
    /// scopes share one setting. Elsewhere (not tuned, MASKRCNN_GLIBC_MALLOC=default, malloc tuned through glibc's
    /// own variables, another C library) a scope that does nothing.
    /// </summary>
    public static IDisposable KeepLargeBlocksInHeap()
    {
        if (!IsTuned || MallOpt == null || UserTunedMalloc())
            return NoScope.Instance;
        lock (Gate)
        {
            if (_keepScopes++ == 0)
                SetKeepLimits();
        }
        return new KeepScope();
    }

    /// <summary>
    /// The steady limits (<see cref="TuneAllocator"/> sets them; a <see cref="KeepLargeBlocksInHeap"/> scope restores
    /// them): blocks up to 128 MiB come from glibc's heap (glibc: 32 MiB), up to 256 MiB of free memory at its top
    /// stays mapped (glibc: 64 MiB) and a trim keeps 256 MiB (M_TOP_PAD; glibc: 128 KiB), so the next inference call
    /// finds the last one's pages. Bounded: larger blocks are still mmap'd, more free memory still trimmed.
    /// </summary>
    /// <returns>whether the limits were set (false where glibc is absent or left alone)</returns>
    public static bool ReuseBlocksBetweenCalls()
    {
        if (MallOpt == null || UserTunedMalloc())
            return false;
        lock (Gate)
        {
            if (_keepScopes == 0)
                SetSteadyLimits();
        }
        Volatile.Write(ref _reuseApplied, 1);
        return true;
    }

    /// <summary>
    /// Run after every inference call in a tuned process (<see cref="ModelCalls.Inference"/>): under the
    /// steady limits and outside any <see cref="KeepLargeBlocksInHeap"/> scope, every <see cref="TrimEveryCalls"/>th
    /// call trims glibc's heap (<c>malloc_trim(0)</c>), handing back the free holes that calls of different sizes leave
    /// between live blocks; the next call pays one round of page faults.
    /// </summary>
    public static void AfterInferenceCall()
    {
        if (MallocTrim == null || Volatile.Read(ref _reuseApplied) == 0 || Volatile.Read(ref _keepScopes) > 0)
            return;
        if (Interlocked.Increment(ref _inferenceCalls) % TrimEveryCalls != 0)
            return;
        MallocTrim(0);
        Interlocked.Increment(ref _inferenceTrims);
    }

    /// <summary>
    /// How often <see cref="AfterInferenceCall"/> trims the heap: often enough that RSS stays within a few percent over
    /// hundreds of R50-FPN calls (PERFORMANCE.md, Memory, for the intervals measured).
    /// </summary>
    public const int TrimEveryCalls = 10;

    /// <summary>How many times <see cref="AfterInferenceCall"/> has trimmed the heap in this process.</summary>
    public static long InferenceTrims => Interlocked.Read(ref _inferenceTrims);
    static long _inferenceCalls,
        _inferenceTrims;
    static int _reuseApplied;

    /// <summary>
    /// The trainer's release after every epoch: a full collection (tensor wrappers left to the GC are finalized and
    /// their native memory freed), then, in a tuned process, the heap trim of <see cref="Release"/>, so that the free
    /// pages a fragmented heap keeps resident go back between epochs.
    /// </summary>
    public static void AfterTrainingEpoch()
    {
        if (IsTuned)
        {
            Release();
            return;
        }
        Collect();
    }

    static readonly object Gate = new();
    static int _keepScopes;

    /// <summary>glibc's M_MMAP_MAX default; the steady mmap and trim thresholds and top pad.</summary>
    const int DefaultMmapMax = 65536;
    const int SteadyMmapThreshold = 128 << 20;
    const int SteadyTrimThreshold = 256 << 20;
    const int SteadyTopPad = 256 << 20;

    static void SetKeepLimits()
    {
        MallOpt(M_MMAP_MAX, 0);
        MallOpt(M_TRIM_THRESHOLD, -1); // -1: never trim on free (mallopt(3))
    }

    static void SetSteadyLimits()
    {
        MallOpt(M_MMAP_MAX, DefaultMmapMax);
        MallOpt(M_MMAP_THRESHOLD, SteadyMmapThreshold);
        MallOpt(M_TRIM_THRESHOLD, SteadyTrimThreshold);
        MallOpt(M_TOP_PAD, SteadyTopPad);
    }

    static string? MallocMode => RuntimeOptions.GlibcMalloc;

    static bool UserTunedMalloc() => RuntimeOptions.MallocTunedByUser || MallocMode == "default";

    sealed class KeepScope : IDisposable
    {
        int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 1)
                return;
            lock (Gate)
            {
                if (--_keepScopes > 0)
                    return;
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
            if (!OperatingSystem.IsLinux())
                return -1;
            var stat = File.ReadAllText("/proc/self/stat");
            return long.Parse(stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[7]); // field 10, minflt
        }
        catch (Exception e) when (e is IOException or FormatException or UnauthorizedAccessException)
        {
            return -1;
        }
    }

    /// <summary>
    /// Collects, then trims the C heap, whether or not the process is tuned. Call between steps, never while native
    /// work is in flight on another thread.
    /// </summary>
    /// <returns>whether glibc's malloc_trim ran</returns>
    public static bool Release()
    {
        Collect();
        if (MallocTrim == null)
            return false;
        MallocTrim(0);
        return true;
    }

    static void Collect()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
    }
}
