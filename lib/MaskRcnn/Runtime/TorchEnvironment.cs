using System.Reflection;
using System.Runtime.InteropServices;
using TorchSharp;

namespace MaskRcnn.Runtime;

/// <summary>Versions and settings of the running stack, as the CLI's <c>version</c> verb prints them.</summary>
public sealed record EnvironmentInfo(
    string Library,
    string TorchSharp,
    string LibTorch,
    string Device,
    bool CudaAvailable,
    int Threads,
    string Backend,
    string NativeFix,
    string MklDispatch,
    string Runtime,
    string Os,
    string BFloat16
);

/// <summary>One place for start-up, device choice and thread settings.</summary>
public static class TorchEnvironment
{
    /// <summary>
    /// Prepares the natives (<see cref="NativeRuntime.Initialize"/>), switches libtorch's NNPACK path off
    /// (<see cref="Nnpack"/>) and, when <paramref name="threads"/> &gt; 0, sets libtorch's intra-op thread count.
    /// Safe to call many times. It leaves the C allocator alone: a process opts into the library's allocator policy
    /// with <see cref="MemoryRelease.TuneAllocator"/> (the CLI and the notebooks do).
    /// </summary>
    public static NativeRuntimeReport Initialize(int threads = 0)
    {
        if (threads < 0 || threads > MaxThreads)
            throw new ArgumentException($"threads: {threads} is outside 0..{MaxThreads} (0: libtorch's default)");
        var report = NativeRuntime.Initialize();
        Nnpack.Disable(); // no result changes; only the warnings of CPUs NNPACK does not recognise go
        if (threads > 0)
            torch.set_num_threads(threads);
        return report;
    }

    /// <summary>
    /// The most intra-op threads we set: 4 per processor. More only oversubscribes the cores, and libtorch starts
    /// them all at once.
    /// </summary>
    public static int MaxThreads => 4 * Environment.ProcessorCount;

    /// <summary>'cpu', 'cuda', 'cuda:N' or 'auto' (cuda when available, else cpu).</summary>
    public static torch.Device ResolveDevice(string? spec)
    {
        Initialize();
        spec = string.IsNullOrWhiteSpace(spec) ? "auto" : spec.Trim().ToLowerInvariant();
        if (spec == "auto")
            return torch.cuda.is_available() ? torch.CUDA : torch.CPU;
        if (spec.StartsWith("cuda") && !torch.cuda.is_available())
            throw new ArgumentException(
                $"Device '{spec}' was requested but CUDA is not available: this build uses the '{Backend}' TorchSharp "
                    + "backend (rebuild with -p:TorchBackend=cuda on a machine with an NVIDIA driver) or no GPU is "
                    + "visible."
            );
        try
        {
            return torch.device(spec);
        }
        catch (Exception e)
        {
            throw new ArgumentException($"Unknown device '{spec}' (use cpu, cuda, cuda:N or auto).", e);
        }
    }

    /// <summary>'cpu' or 'cuda': which TorchSharp package this build references (MSBuild property
    /// TorchBackend).</summary>
#if TORCH_CUDA
    public const string Backend = "cuda";
#else
    public const string Backend = "cpu";
#endif

    /// <summary>Everything <c>maskrcnn version</c> prints.</summary>
    public static EnvironmentInfo Describe(string? device = null)
    {
        var report = Initialize();
        var dev = ResolveDevice(device);
        return new EnvironmentInfo(
            Library: InformationalVersion(typeof(TorchEnvironment).Assembly),
            TorchSharp: InformationalVersion(typeof(torch).Assembly),
            LibTorch: torch.__version__,
            Device: dev.ToString(),
            CudaAvailable: torch.cuda.is_available(),
            Threads: torch.get_num_threads(),
            Backend: Backend,
            NativeFix: $"{report.Status}: {report.Detail}",
            MklDispatch: (MklDispatch.Report is { } mkl ? $"{mkl.Status}: {mkl.Detail}" : "not run")
                + (MklDispatch.AutoBranch() is int branch ? $" Auto branch {branch}." : ""),
            Runtime: RuntimeInformation.FrameworkDescription,
            Os: RuntimeInformation.OSDescription,
            BFloat16: Autocast.Describe()
        );
    }

    static string InformationalVersion(Assembly a)
    {
        string v =
            a.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
            ?? a.GetName().Version?.ToString()
            ?? "unknown";
        int plus = v.IndexOf('+'); // drop the source-revision suffix
        return plus > 0 ? v[..plus] : v;
    }
}
