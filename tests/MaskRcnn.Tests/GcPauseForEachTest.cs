using System.Reflection;
using System.Runtime;
using MaskRcnn.Runtime;
using Xunit.Sdk;

// TorchSharp 0.107 passes implicitly created Scalars to libtorch without keeping them alive, so a garbage collection
// during a native call can finalize one under libtorch (lib/README.md). The library pauses the GC around every
// training step, prediction and inspection; tests also call ops directly, so every test runs inside such a pause.
// A no-GC region is process-wide, so tests run one at a time (in parallel they would end each other's region and
// allocate for each other: reproduced as a wrong RoIAlign gradient and as "alpha must not be a floating point number").
[assembly: CollectionBehavior(DisableTestParallelization = true)]
[assembly: MaskRcnn.Tests.GcPauseForEachTest]

namespace MaskRcnn.Tests;

/// <summary>Runs each test inside <see cref="GcPause.Enter"/> (see the comment at the top of this file).</summary>
[AttributeUsage(AttributeTargets.Assembly | AttributeTargets.Class | AttributeTargets.Method)]
public sealed class GcPauseForEachTestAttribute : BeforeAfterTestAttribute
{
    [ThreadStatic]
    static GcPause.Scope? _scope;

    public override void Before(MethodInfo methodUnderTest) => _scope = GcPause.Enter();

    public override void After(MethodInfo methodUnderTest)
    {
        _scope?.Dispose();
        _scope = null;
    }
}

public class GcPauseForEachTestTests
{
    [SkippableFact]
    public void Each_test_runs_inside_a_gc_pause()
    {
        Skip.IfNot(GcPause.Enabled, "MASKRCNN_GC_PAUSE=0: no pauses");
        Assert.Equal(GCLatencyMode.NoGCRegion, GCSettings.LatencyMode);
    }
}
