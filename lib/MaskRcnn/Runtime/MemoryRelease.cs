using System.Runtime.InteropServices;

namespace MaskRcnn.Runtime;

/// <summary>
/// Hands memory that is free but still mapped back to the operating system: a full .NET collection (finalizing
/// tensor wrappers whose native memory is then freed), then glibc's <c>malloc_trim(0)</c>.
/// <para>
/// Why: training allocates tensors of a different size at every step (the number of proposals, positives and
/// masks varies), so glibc's heap becomes fragmented and keeps free pages resident. Without a trim, resident
/// memory of a cpu-quick run climbed from 0.7 GB to about 2 GB over the first eight epochs before levelling
/// off; with a trim after every epoch it stays flat. A no-op (returning false) where glibc is not the C library.
/// </para>
/// </summary>
public static unsafe class MemoryRelease
{
    static readonly delegate* unmanaged<nuint, int> MallocTrim = Resolve();

    static delegate* unmanaged<nuint, int> Resolve()
    {
        if (!OperatingSystem.IsLinux() || !NativeLibrary.TryLoad("libc.so.6", out var libc)) return null;
        return NativeLibrary.TryGetExport(libc, "malloc_trim", out var trim) ? (delegate* unmanaged<nuint, int>)trim : null;
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
