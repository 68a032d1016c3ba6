using TorchSharp;

namespace MaskRcnn.Runtime;

/// <summary>
/// What the process does around the model's work, in one place, so that the model files name none of it: the model
/// says what a block of work is (an inference call, a step, the number format of its network stages, a training run,
/// the end of an epoch) and this class does what the runtime needs there —
/// <list type="bullet">
/// <item>no garbage collection inside a block (<see cref="GcPause"/>: TorchSharp's implicit Scalars, lib/README.md);</item>
/// <item>libtorch's autocast for <see cref="ComputePrecision.BFloat16"/> (<see cref="Autocast"/>);</item>
/// <item>the allocator policy the process opted into (<see cref="MemoryRelease.TuneAllocator"/>): a heap trim every
/// few inference calls, large blocks kept in the heap while training, a release after every epoch.</item>
/// </list>
/// Inference and training reach the allocator the same way, through here. Native start-up is the host's, once, before
/// any TorchSharp call (<see cref="TorchEnvironment.Initialize"/>), not a side effect of building a model.
/// </summary>
public static class ModelCalls
{
    /// <summary>
    /// Around one inference call (<c>MaskRCNN.Predict</c>): no collection inside; when it is disposed (also after an
    /// exception), the per-call work of the allocator policy (<see cref="MemoryRelease.AfterInferenceCall"/>, in a
    /// tuned process), then the collector's pause ends.
    /// </summary>
    public static Scope Inference() => new(GcPause.Enter(), afterInference: true);

    /// <summary>
    /// Around any other block of the model's work — a training forward pass or step, an inspection, a profiled
    /// call: no collection inside.
    /// </summary>
    public static Scope Step() => new(GcPause.Enter(), afterInference: false);

    /// <summary>
    /// The number format of the network's stages on <paramref name="device"/> until disposed: libtorch's bfloat16
    /// autocast for <see cref="ComputePrecision.BFloat16"/>, nothing for float32. The layers that must stay in full
    /// precision inside it are the layer factory's (<c>Modeling/Layers</c>).
    /// </summary>
    public static Autocast.Scope Precision(torch.Device device, ComputePrecision precision) =>
        precision == ComputePrecision.BFloat16 ? Autocast.Enter(device.type, torch.ScalarType.BFloat16) : default;

    /// <summary>
    /// Around a training run (the trainer's, or a training benchmark): in a tuned process glibc keeps large blocks in
    /// its heap, so steps reuse each other's pages (<see cref="MemoryRelease.KeepLargeBlocksInHeap"/>).
    /// </summary>
    public static IDisposable TrainingRun() => MemoryRelease.KeepLargeBlocksInHeap();

    /// <summary>
    /// After every training epoch: a full collection (tensor wrappers left to the GC are finalized and their memory
    /// freed) and, in a tuned process, a heap trim (<see cref="MemoryRelease.AfterTrainingEpoch"/>).
    /// </summary>
    public static void EndTrainingEpoch() => MemoryRelease.AfterTrainingEpoch();

    /// <summary>A block of model work; dispose it when the block ends.</summary>
    public readonly struct Scope(GcPause.Scope pause, bool afterInference) : IDisposable
    {
        public void Dispose()
        {
            try
            {
                if (afterInference && MemoryRelease.IsTuned)
                    MemoryRelease.AfterInferenceCall();
            }
            finally
            {
                pause.Dispose();
            }
        }
    }
}
