using MaskRcnn.Config;
using MaskRcnn.Inference;
using MaskRcnn.Modeling;
using TorchSharp;
using static TorchSharp.torch;

namespace MaskRcnn.Tests.Inference;

/// <summary>Runs alone: other tests allocating in the same process would blur the resident-memory curve.</summary>
[CollectionDefinition(nameof(MemoryCollection), DisableParallelization = true)]
public sealed class MemoryCollection;

[Collection(nameof(MemoryCollection))]
public class MemoryTests
{
    [Fact]
    public void Repeated_inference_does_not_grow_resident_memory()
    {
        // Small but complete: every stage, masks pasted. glibc's arenas take ~200 calls to settle (measured:
        // RSS climbs for 200 calls, then stays flat to 1000), so 250 warm-up calls, then 300 tracked ones.
        var config = new MaskRcnnConfig
        {
            Arch = "resnet18-fpn", NumClasses = 3, MinSize = [64], MaxSize = 64,
            RpnPostNmsTopNTest = 50, BoxDetectionsPerImg = 10,
        };
        manual_seed(5);
        using var model = new MaskRCNN(config);
        model.eval();
        using var image = rand(3, 64, 64);
        int detections = 0;
        var result = MemoryGrowth.Measure(() => { using var d = model.Predict(image); detections += d.Count; }, calls: 300, warmup: 250);
        Assert.True(detections > 0, "the mask branch ran");
        Assert.True(result.GrowthPercent < 5,
            $"RSS {result.FirstMb} MB → {result.LastMb} MB ({result.GrowthPercent} %) over {result.Calls} calls");
    }
}
