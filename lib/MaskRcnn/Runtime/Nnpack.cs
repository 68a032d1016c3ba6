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

    /// <summary>libtorch's context and the flag's two functions (member functions take <c>this</c> first).</summary>
    sealed class Functions
    {
        public required nint Context;
        public required delegate* unmanaged<nint, byte, void> SetEnabled;
        public required delegate* unmanaged<nint, byte> IsEnabled;
    }

    static readonly Lazy<Functions?> Native = new(Find);
    static readonly Lazy<bool> Switched = new(SwitchOff);

    /// <summary>Switches NNPACK off once per process; true when it is off (or was never on), false where the switch
    /// was not found.</summary>
    public static bool Disable() => Switched.Value;

    /// <summary>Whether libtorch would consider NNPACK for a convolution; null where that cannot be asked.</summary>
    public static bool? IsEnabled() => Native.Value is { } f ? f.IsEnabled(f.Context) != 0 : null;

    static bool SwitchOff()
    {
        if (Native.Value is not { } f)
            return false;
        f.SetEnabled(f.Context, 0);
        return f.IsEnabled(f.Context) == 0;
    }

    static Functions? Find()
    {
        if (
            NativeRuntime.LibTorchExports(GlobalContextName, SetEnabledName, IsEnabledName)
            is not [var global, var set, var get]
        )
            return null;
        nint context = ((delegate* unmanaged<nint>)global)(); // at::Context& as a pointer
        return context == 0
            ? null
            : new Functions
            {
                Context = context,
                SetEnabled = (delegate* unmanaged<nint, byte, void>)set,
                IsEnabled = (delegate* unmanaged<nint, byte>)get,
            };
    }
}
