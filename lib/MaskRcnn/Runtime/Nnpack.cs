using System.Runtime.InteropServices;

namespace MaskRcnn.Runtime;

/// <summary>
/// libtorch's NNPACK convolutions, switched off (Python: <c>torch.backends.nnpack.set_flags(False)</c>), which
/// TorchSharp does not bind. Before a convolution that oneDNN does not take, libtorch asks whether NNPACK runs on this
/// CPU, and where NNPACK's own CPU detection fails (an AMD EPYC under a hypervisor, 2026-12) every such question
/// prints "Could not initialize NNPACK! Reason: Unsupported hardware." — 2,408 lines in one busi training run, 280 in
/// one evaluation. Off, libtorch never asks. No result changes: libtorch gives NNPACK only batches of 16 or more
/// without gradients, and for float32 on a CPU such a batch goes to oneDNN first. The switch is libtorch's C++
/// function <c>at::Context::setUserEnabledNNPACK</c> on <c>at::globalContext()</c>, found by its Itanium C++ ABI name;
/// where it is missing (another platform, another libtorch) nothing happens.
/// </summary>
public static unsafe class Nnpack
{
    const string GlobalContextName = "_ZN2at13globalContextEv";
    const string SetEnabledName = "_ZN2at7Context20setUserEnabledNNPACKEb";
    const string IsEnabledName = "_ZNK2at7Context17userEnabledNNPACKEv";

    static readonly Lazy<bool> Switched = new(SwitchOff);

    /// <summary>Switches NNPACK off once per process; true when it is off (or was never on), false where the switch
    /// was not found.</summary>
    public static bool Disable() => Switched.Value;

    /// <summary>Whether libtorch would consider NNPACK for a convolution; null where that cannot be asked.</summary>
    public static bool? IsEnabled()
    {
        if (!TryFind(out var context, out _, out var isEnabled))
            return null;
        return isEnabled(context) != 0;
    }

    static bool SwitchOff()
    {
        if (!TryFind(out var context, out var setEnabled, out var isEnabled))
            return false;
        setEnabled(context, 0);
        return isEnabled(context) == 0;
    }

    static bool TryFind(
        out nint context,
        out delegate* unmanaged<nint, byte, void> setEnabled,
        out delegate* unmanaged<nint, byte> isEnabled
    )
    {
        context = 0;
        setEnabled = null;
        isEnabled = null;
        if (!OperatingSystem.IsLinux() || !NativeRuntime.TryLoadLibTorchCpu(out var lib))
            return false;
        if (
            !NativeLibrary.TryGetExport(lib, GlobalContextName, out var global)
            || !NativeLibrary.TryGetExport(lib, SetEnabledName, out var set)
            || !NativeLibrary.TryGetExport(lib, IsEnabledName, out var get)
        )
            return false;
        context = ((delegate* unmanaged<nint>)global)(); // at::Context& as a pointer
        setEnabled = (delegate* unmanaged<nint, byte, void>)set; // member functions take `this` first
        isEnabled = (delegate* unmanaged<nint, byte>)get;
        return context != 0;
    }
}
