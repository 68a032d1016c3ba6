namespace MaskRcnn.Runtime;

/// <summary>
/// Points in the library's work where the host process may hook in work of its own. The model raises them and does
/// not know who listens; the allocator policy a process opts into (<see cref="MemoryRelease.TuneAllocator"/>) listens
/// here.
/// </summary>
public static class ProcessHooks
{
    /// <summary>Raised on the caller's thread as every <c>MaskRCNN.Predict</c> call returns (also when it
    /// throws).</summary>
    public static event Action? InferenceCallEnded;

    /// <summary>Raises <see cref="InferenceCallEnded"/>.</summary>
    public static void EndInferenceCall() => InferenceCallEnded?.Invoke();
}
