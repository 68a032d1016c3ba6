using System.Runtime;

namespace MaskRcnn.Runtime;

/// <summary>
/// Keeps the .NET garbage collector from running during a block of TorchSharp work (the model's blocks enter it through
/// <see cref="ModelCalls"/>).
/// <para>
/// Why: TorchSharp 0.107 turns numbers passed to tensor operations (<c>x.add_(1)</c>, <c>x * 0.5f</c>, and many
/// calls inside TorchSharp itself) into <c>Scalar</c> objects that are neither disposed nor kept alive while
/// libtorch reads them. If a collection happens during that native call (triggered by an allocation on another
/// thread) the Scalar's finalizer can free it under libtorch's feet: "Unknown scalar type" or "Expected false to
/// be true" from random operations, seen here within minutes of training. Inside a no-GC region no collection
/// can start, so no finalizer runs; garbage is collected between blocks, when no native call is in flight.
/// </para>
/// Nested pauses are free (only the outermost starts a region). If a block allocates more managed memory than
/// the budget the runtime ends the region early; that is handled and only loses the protection for the rest
/// of the block.
/// </summary>
public static class GcPause
{
    [ThreadStatic]
    static int _depth;
    static long _budget = 200L << 20;

    /// <summary>
    /// True unless the process started with MASKRCNN_GC_PAUSE=0 (<see cref="RuntimeOptions.GcPauseEnabled"/>, for
    /// diagnosis): set once, at start-up.
    /// </summary>
    public static bool Enabled { get; } = RuntimeOptions.GcPauseEnabled;

    public static Scope Enter()
    {
        if (!Enabled || _depth++ > 0)
            return new Scope(false);
        bool started = false;
        while (!started && _budget >= 16L << 20)
        {
            try
            {
                started =
                    GCSettings.LatencyMode != GCLatencyMode.NoGCRegion
                    && GC.TryStartNoGCRegion(_budget, disallowFullBlockingGC: true);
                break;
            }
            catch (ArgumentOutOfRangeException)
            {
                _budget /= 2;
            } // budget above what this GC configuration allows
            catch (InvalidOperationException)
            {
                break;
            } // already in a region (another thread)
        }
        return new Scope(started);
    }

    public readonly struct Scope(bool started) : IDisposable
    {
        public void Dispose()
        {
            if (!Enabled)
                return;
            _depth = Math.Max(0, _depth - 1);
            if (!started)
                return;
            if (GCSettings.LatencyMode == GCLatencyMode.NoGCRegion)
            {
                try
                {
                    GC.EndNoGCRegion();
                }
                catch (InvalidOperationException) { }
            }
        }
    }
}
