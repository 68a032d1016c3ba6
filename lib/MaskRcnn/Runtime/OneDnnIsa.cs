using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;

namespace MaskRcnn.Runtime;

/// <summary>
/// Keeps oneDNN (libtorch's CPU convolutions) off its blocked ("brgemm") kernels where the CPU does not report its
/// cache hierarchy. oneDNN sizes those kernels' blocks from the data caches the CPU reports (on AMD, CPUID leaf
/// 0x8000001D). An AMD EPYC virtual machine of 2026-12 reported none: there the AVX-512 1×1 convolution
/// (brgconv_1x1) computed ResNet-18's layer4 shortcut up to 50 % wrong, and ResNet-50 stopped with SIGFPE in the AVX-512
/// and the AVX2 kernels alike; capped at AVX, which has no such kernels, both compute right
/// (<c>NativeRuntimeTests</c>; PERFORMANCE.md). The switch is oneDNN's own environment variable
/// <c>ONEDNN_MAX_CPU_ISA</c>, set in the process's environment before libtorch loads; a value the user set is kept.
/// </summary>
public static class OneDnnIsa
{
    /// <summary>oneDNN's variable for the highest instruction set its kernels may use.</summary>
    public const string Variable = "ONEDNN_MAX_CPU_ISA";

    /// <summary>The instruction set <see cref="Apply"/> caps oneDNN at: AVX has no blocked kernels.</summary>
    const string CappedIsa = "AVX";

    /// <summary>The highest instruction set oneDNN may use in this process: the cap <see cref="Apply"/> set, or the
    /// user's own value, or null where nothing caps it.</summary>
    public static string? Cap =>
        Report?.Status == "avx" ? CappedIsa
        : RuntimeOptions.OneDnnMaxCpuIsa is { Length: > 0 } value ? value
        : null;

    /// <summary>What <see cref="Apply"/> did: 'avx' (capped), 'kept' (the user's value), 'not-needed', 'too-late'
    /// (libtorch was loaded first) or 'failed', with a sentence.</summary>
    public static (string Status, string Detail)? Report { get; private set; }

    /// <summary>Sets the cap where the CPU hides its caches; once, before libtorch loads
    /// (<see cref="NativeRuntime.Initialize"/> calls it).</summary>
    public static void Apply() => Report ??= ApplyCore();

    static (string, string) ApplyCore()
    {
        if (RuntimeOptions.OneDnnMaxCpuIsa is { Length: > 0 } value)
            return ("kept", $"{Variable}={value}, as set.");
        if (!OperatingSystem.IsLinux() || !X86Base.IsSupported || !Avx2.IsSupported || !HidesCaches())
            return ("not-needed", "oneDNN sees this CPU's caches (or it has no AVX2 and no blocked kernels).");
        if (NativeRuntime.LoadedPath("libtorch_cpu.so") is not null)
            return ("too-late", "libtorch was loaded before MaskRcnn's start-up: oneDNN keeps its AVX-512 kernels.");
        if (SetEnv(Variable, CappedIsa, 0) != 0)
            return ("failed", $"setenv({Variable}) failed: oneDNN keeps its AVX-512 kernels.");
        return ("avx", "This CPU reports no cache hierarchy: oneDNN's kernels capped at AVX (no blocked kernels).");
    }

    /// <summary>An AMD CPU whose cache-topology leaf (0x8000001D, subleaf 0) describes no cache.</summary>
    static bool HidesCaches()
    {
        var (_, ebx, ecx, edx) = X86Base.CpuId(0, 0);
        bool amd = ebx == 0x68747541 && edx == 0x69746e65 && ecx == 0x444d4163; // "AuthenticAMD"
        if (!amd)
            return false;
        if ((uint)X86Base.CpuId(unchecked((int)0x80000000), 0).Eax < 0x8000001D)
            return true;
        return (X86Base.CpuId(unchecked((int)0x8000001D), 0).Eax & 0x1F) == 0; // cache type 0: no cache
    }

    [DllImport("libc.so.6", EntryPoint = "setenv")]
    static extern int SetEnv(string name, string value, int overwrite);
}
