using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;
using TorchSharp;

namespace MaskRcnn.Runtime;

/// <summary>
/// The number format the model computes in: for inference <see cref="MaskRcnn.Modeling.MaskRCNN.Precision"/>, for
/// training <see cref="MaskRcnn.Config.TrainingSettings.Precision"/>.
/// </summary>
public enum ComputePrecision
{
    /// <summary>Float32 everywhere: the same results as torchvision (the default).</summary>
    Float32,

    /// <summary>
    /// Convolutions and fully connected layers in bfloat16 (libtorch's autocast, as Python's
    /// <c>torch.autocast("cpu", dtype=torch.bfloat16)</c>); anchors, box decoding, RoIAlign, NMS, the box predictor,
    /// the losses and mask pasting stay float32, and so do the weights and their gradients (mixed precision). Faster
    /// where the CPU has native BF16 (AVX512_BF16, AMX), slower where it has not; scores and boxes differ slightly
    /// from float32's (PERFORMANCE.md, "Opt-in bfloat16", measures both).
    /// </summary>
    BFloat16,
}

/// <summary>Short names of <see cref="ComputePrecision"/> values, as the command line and reports write them.</summary>
public static class ComputePrecisionNames
{
    /// <summary>fp32 or bf16.</summary>
    public static string ShortName(this ComputePrecision p) => p == ComputePrecision.BFloat16 ? "bf16" : "fp32";

    /// <summary>fp32/float32 or bf16/bfloat16 (any case); an <see cref="ArgumentException"/> naming the value
    /// otherwise.</summary>
    public static ComputePrecision Parse(string name) =>
        TryParse(name) ?? throw new ArgumentException($"unknown precision '{name}' (fp32 or bf16)");

    /// <summary>As <see cref="Parse"/>, null for an unknown name.</summary>
    public static ComputePrecision? TryParse(string? name) =>
        name?.ToLowerInvariant() switch
        {
            "fp32" or "float32" => ComputePrecision.Float32,
            "bf16" or "bfloat16" => ComputePrecision.BFloat16,
            _ => null,
        };
}

/// <summary>
/// libtorch's automatic mixed precision ("autocast"), which TorchSharp does not bind: inside a scope from
/// <see cref="Enter"/>, libtorch runs the operations on its lower-precision list (convolutions, linear layers,
/// matrix products) in the given type on the calling thread, casting their inputs, and everything else as it comes.
/// The switches are libtorch's C++ functions <c>at::autocast::set_autocast_enabled</c> and friends, found in
/// libtorch_cpu.so by their (Itanium C++ ABI) names; where they are missing (another platform, another libtorch)
/// <see cref="IsAvailable"/> is false and <see cref="Enter"/> throws <see cref="NotSupportedException"/>.
/// The state is per thread, so a scope must be entered and left on the same thread (every Predict call is).
/// </summary>
public static unsafe class Autocast
{
    const string SetEnabledName = "_ZN2at8autocast20set_autocast_enabledEN3c1010DeviceTypeEb";
    const string IsEnabledName = "_ZN2at8autocast19is_autocast_enabledEN3c1010DeviceTypeE";
    const string SetDtypeName = "_ZN2at8autocast18set_autocast_dtypeEN3c1010DeviceTypeENS1_10ScalarTypeE";
    const string GetDtypeName = "_ZN2at8autocast18get_autocast_dtypeEN3c1010DeviceTypeE";
    const string ClearCacheName = "_ZN2at8autocast11clear_cacheEv";

    internal sealed class Functions
    {
        public required delegate* unmanaged<sbyte, byte, void> SetEnabled;
        public required delegate* unmanaged<sbyte, byte> IsEnabled;
        public required delegate* unmanaged<sbyte, sbyte, void> SetDtype;
        public required delegate* unmanaged<sbyte, sbyte> GetDtype;
        public required delegate* unmanaged<void> ClearCache;
    }

    static readonly Lazy<Functions?> Native = new(Find);

    /// <summary>Whether libtorch's autocast switches were found (Linux builds of libtorch).</summary>
    public static bool IsAvailable => Native.Value is not null;

    /// <summary>
    /// Whether this CPU computes bfloat16 products natively (AVX512_BF16 or AMX-BF16) and oneDNN may use those
    /// instructions (<see cref="OneDnnCap"/>). Otherwise oneDNN emulates bfloat16 and
    /// <see cref="ComputePrecision.BFloat16"/> is slower than float32.
    /// </summary>
    public static bool NativeBFloat16OnCpu => CpuHasBFloat16 && AllowsBFloat16(OneDnnCap);

    /// <summary>Whether the CPU has AVX512_BF16 or AMX-BF16, whatever oneDNN is allowed to use.</summary>
    public static bool CpuHasBFloat16 =>
        X86Base.IsSupported
        && X86Base.CpuId(0, 0).Eax >= 7
        && (
            (X86Base.CpuId(7, 0).Eax >= 1 && (X86Base.CpuId(7, 1).Eax & (1 << 5)) != 0) // AVX512_BF16
            || (X86Base.CpuId(7, 0).Edx & (1 << 22)) != 0
        ); // AMX-BF16

    /// <summary>The highest instruction set oneDNN may use in this process (<see cref="OneDnnIsa.Cap"/>).</summary>
    public static string? OneDnnCap => OneDnnIsa.Cap;

    /// <summary>Whether oneDNN capped at <paramref name="isa"/> (one of its ISA names, e.g. AVX2, AVX512_CORE,
    /// AVX512_CORE_BF16, AVX512_CORE_AMX; null: no cap) keeps its native bfloat16 kernels.</summary>
    public static bool AllowsBFloat16(string? isa)
    {
        if (string.IsNullOrWhiteSpace(isa))
            return true;
        string name = isa.Trim().ToUpperInvariant();
        return name is "ALL" or "DEFAULT" || name.Contains("BF16") || name.Contains("AMX") || name.StartsWith("AVX10");
    }

    /// <summary>One line for reports: whether bfloat16 (inference and training) is possible here and fast.</summary>
    public static string Describe() =>
        !IsAvailable ? "not available (libtorch's autocast functions were not found)"
        : NativeBFloat16OnCpu ? "available, native on this CPU (AVX512_BF16/AMX)"
        : CpuHasBFloat16
            ? $"available, emulated here: the CPU has AVX512_BF16/AMX but oneDNN is capped at {OneDnnCap} (slower "
                + "than float32)"
        : "available, emulated on this CPU (no AVX512_BF16/AMX: slower than float32)";

    /// <summary>
    /// Turns autocast on for <paramref name="device"/>'s type with <paramref name="dtype"/> on this thread until
    /// the returned scope is disposed, which restores the previous state (scopes nest).
    /// </summary>
    public static Scope Enter(DeviceType device, torch.ScalarType dtype)
    {
        var f =
            Native.Value
            ?? throw new NotSupportedException(
                "Mixed precision needs libtorch's autocast functions (at::autocast::set_autocast_enabled), which this "
                    + "libtorch build does not export under the expected names; use ComputePrecision.Float32."
            );
        return new Scope(f, (sbyte)device, true, (sbyte)dtype);
    }

    /// <summary>
    /// Turns autocast off for <paramref name="device"/>'s type on this thread until disposed (for layers that must
    /// stay float32 inside an autocast scope, as Python's <c>torch.autocast(..., enabled=False)</c>); a no-op scope
    /// where autocast is off or unavailable.
    /// </summary>
    public static Scope Suspend(DeviceType device)
    {
        var f = Native.Value;
        if (f is null || f.IsEnabled((sbyte)device) == 0)
            return default;
        return new Scope(f, (sbyte)device, false, f.GetDtype((sbyte)device));
    }

    /// <summary>Whether autocast is on for the device type on this thread.</summary>
    public static bool IsEnabled(DeviceType device) => Native.Value is { } f && f.IsEnabled((sbyte)device) != 0;

    /// <summary>Restores the autocast state found at its creation.</summary>
    public readonly struct Scope : IDisposable
    {
        readonly Functions? _f;
        readonly sbyte _device,
            _previousDtype;
        readonly bool _previousEnabled;

        internal Scope(Functions f, sbyte device, bool enable, sbyte dtype)
        {
            _f = f;
            _device = device;
            _previousEnabled = f.IsEnabled(device) != 0;
            _previousDtype = f.GetDtype(device);
            f.SetDtype(device, dtype);
            f.SetEnabled(device, (byte)(enable ? 1 : 0));
        }

        public void Dispose()
        {
            if (_f is null)
                return;
            _f.SetEnabled(_device, (byte)(_previousEnabled ? 1 : 0));
            _f.SetDtype(_device, _previousDtype);
            if (!_previousEnabled)
                _f.ClearCache(); // the outermost scope frees the cast weights it cached
        }
    }

    static Functions? Find() =>
        NativeRuntime.LibTorchExports(SetEnabledName, IsEnabledName, SetDtypeName, GetDtypeName, ClearCacheName)
            is [var setEnabled, var isEnabled, var setDtype, var getDtype, var clearCache]
            ? new Functions
            {
                SetEnabled = (delegate* unmanaged<sbyte, byte, void>)setEnabled,
                IsEnabled = (delegate* unmanaged<sbyte, byte>)isEnabled,
                SetDtype = (delegate* unmanaged<sbyte, sbyte, void>)setDtype,
                GetDtype = (delegate* unmanaged<sbyte, sbyte>)getDtype,
                ClearCache = (delegate* unmanaged<void>)clearCache,
            }
            : null;
}
