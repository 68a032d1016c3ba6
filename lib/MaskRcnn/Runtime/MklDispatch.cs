using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;

namespace MaskRcnn.Runtime;

/// <summary>What <see cref="MklDispatch"/> found and did.</summary>
/// <param name="Status">
/// 'applied' (shim loaded: oneMKL picks kernels by CPU features), 'intel' (an Intel CPU: oneMKL already does),
/// 'vendor' (MASKRCNN_MKL_DISPATCH=vendor), 'no-avx2', 'not-x86', 'not-linux', 'too-late' (libtorch was
/// loaded before us), 'missing' (the shim file is not next to MaskRcnn.Core.dll) or 'failed' (dlopen refused it).
/// </param>
/// <param name="Detail">One human sentence.</param>
public sealed record MklDispatchReport(string Status, string Detail);

/// <summary>
/// Lets oneMKL, which libtorch's CPU build links in for dense matrix products (nn.Linear, matmul), choose its
/// kernels by the CPU's features on x86-64 CPUs that are not Intel's. Left alone, oneMKL keeps those CPUs on a
/// generic path (its "compatible" branch), where the box head's fc6 ran at less than half its speed on the AMD EPYC of
/// our benchmarks (PERFORMANCE.md). The shim <c>libmaskrcnn_mkl_dispatch_shim.so</c> defines the one oneMKL function
/// that asks "is this an Intel CPU?" and is loaded RTLD_GLOBAL before libtorch, so that libtorch's calls reach it (see
/// Runtime/Native/mkl_dispatch_shim.c). Results are the same sums rounded in another order.
/// <see cref="NativeRuntime.Initialize"/> calls <see cref="Apply"/> first thing; MASKRCNN_MKL_DISPATCH=vendor
/// keeps oneMKL's own choice.
/// </summary>
public static class MklDispatch
{
    /// <summary>File name of the shim, shipped next to MaskRcnn.Core.dll.</summary>
    public const string ShimFileName = "libmaskrcnn_mkl_dispatch_shim.so";

    /// <summary>Set to 'vendor' to keep oneMKL's vendor check (the shim is not loaded).</summary>
    public const string EnvironmentVariable = RuntimeOptions.MklDispatchVariable;

    static readonly object Gate = new();
    static MklDispatchReport? _report;

    /// <summary>The result of <see cref="Apply"/>, or null before it ran.</summary>
    public static MklDispatchReport? Report => _report;

    /// <summary>
    /// True when oneMKL's SGEMM runs the kernels made for this CPU (an Intel CPU, or the shim applied). Where it
    /// does not, <see cref="MaskRcnn.Modeling.Kernels.FlattenedLinear"/> runs fc6 as a oneDNN convolution instead.
    /// </summary>
    public static bool FeatureKernels => _report?.Status is "applied" or "intel";

    /// <summary>Loads the shim where it helps; idempotent. Must run before libtorch is loaded to have an
    /// effect.</summary>
    public static MklDispatchReport Apply()
    {
        if (_report is not null)
            return _report;
        lock (Gate)
            return _report ??= ApplyCore();
    }

    static MklDispatchReport ApplyCore()
    {
        if (!OperatingSystem.IsLinux())
            return new("not-linux", "Not Linux: oneMKL's own dispatch is kept.");
        if (!X86Base.IsSupported)
            return new("not-x86", "Not an x86-64 CPU: there is no oneMKL in libtorch to steer.");
        string vendor = CpuVendor();
        if (vendor == "GenuineIntel")
            return new("intel", "Intel CPU: oneMKL already picks its kernels by CPU features.");
        if (RuntimeOptions.MklVendorDispatch)
            return new("vendor", $"{EnvironmentVariable}=vendor: oneMKL keeps its generic path on this {vendor} CPU.");
        if (!Avx2.IsSupported || !Fma.IsSupported)
            return new("no-avx2", $"This {vendor} CPU lacks AVX2/FMA: oneMKL's generic path is the right one.");
        if (NativeRuntime.LoadedPath("libtorch_cpu.so") is not null)
            return new(
                "too-late",
                "libtorch was loaded before MaskRcnn's start-up, so oneMKL's dispatch could not be changed; "
                    + "call TorchEnvironment.Initialize before any TorchSharp call."
            );

        string dir = Path.GetDirectoryName(typeof(MklDispatch).Assembly.Location) ?? AppContext.BaseDirectory;
        string shim = Path.Combine(dir, ShimFileName);
        if (!File.Exists(shim))
            return new(
                "missing",
                $"'{ShimFileName}' is not next to MaskRcnn.Core.dll ({dir}): oneMKL keeps its generic "
                    + "path (slower nn.Linear). Rebuild the project or run environment/build-shim.sh."
            );
        try
        {
            Dl.OpenGlobal(shim, "the oneMKL dispatch shim");
        }
        catch (NativeRuntimeException e) // only speed is at stake: say so and go on
        {
            return new("failed", $"{e.Message} oneMKL keeps its generic path (slower nn.Linear).");
        }
        return new(
            "applied",
            $"{vendor} CPU with AVX2/FMA: oneMKL picks its kernels by CPU features ({ShimFileName})."
        );
    }

    /// <summary>
    /// The code branch oneMKL takes on this CPU, as its mkl_cbwr_get_auto_branch() returns it (mkl_cbwr.h:
    /// 2 = MKL_CBWR_COMPATIBLE, the generic path; higher values name instruction sets), or null where libtorch
    /// has no oneMKL. Initialises the natives and loads libtorch if that has not happened yet.
    /// </summary>
    public static unsafe int? AutoBranch() =>
        NativeRuntime.LibTorchExports("mkl_serv_cbwr_get_auto_branch") is [var function]
            ? ((delegate* unmanaged<int>)function)()
            : null;

    /// <summary>The CPUID vendor string: GenuineIntel, AuthenticAMD, HygonGenuine, ...</summary>
    static string CpuVendor()
    {
        var (_, ebx, ecx, edx) = X86Base.CpuId(0, 0);
        Span<byte> bytes = stackalloc byte[12];
        BitConverter.TryWriteBytes(bytes[0..4], ebx);
        BitConverter.TryWriteBytes(bytes[4..8], edx);
        BitConverter.TryWriteBytes(bytes[8..12], ecx);
        return System.Text.Encoding.ASCII.GetString(bytes);
    }
}
