using MaskRcnn.Modeling.Ops;
using TorchSharp;
using static TorchSharp.torch;
using static MaskRcnn.Tests.Fixtures;

namespace MaskRcnn.Tests.Modeling;

public class OpsTests
{
    const string F = "ops.pt";

    [Theory]
    [InlineData(false, 2, 7, 7, 0.25)]
    [InlineData(false, 0, 7, 7, 0.25)]
    [InlineData(false, -1, 5, 3, 0.125)]
    [InlineData(false, 3, 5, 3, 0.125)]
    [InlineData(true, 2, 7, 7, 0.25)]
    [InlineData(true, 0, 5, 3, 0.125)]
    [InlineData(true, -1, 7, 7, 0.25)]
    [InlineData(true, 3, 7, 7, 0.25)]
    public void RoIAlign_matches_torchvision(bool aligned, int samplingRatio, int h, int w, double scale)
    {
        using var scope = NewDisposeScope();
        var expected = Get(F, $"roi_align.out.{(aligned ? 1 : 0)}.{samplingRatio}.{h}x{w}.{scale}");
        var actual = RoIAlign.Apply(Get(F, "roi_align.features"), Get(F, "roi_align.rois"), (h, w), scale, samplingRatio, aligned);
        AssertClose(expected, actual, 1e-5, "roi_align");
    }

    [Fact]
    public void RoIAlign_is_differentiable_with_respect_to_features()
    {
        using var scope = NewDisposeScope();
        var features = Get(F, "roi_align.features").clone().requires_grad_(true);
        var output = RoIAlign.Apply(features, Get(F, "roi_align.rois"), (7, 7), 0.25, 2);
        output.sum().backward();
        Assert.True(features.grad is not null && features.grad.abs().sum().item<float>() > 0);
    }

    [Theory]
    [InlineData(7, 7, 0.25)]
    [InlineData(4, 6, 0.125)]
    public void RoIPool_matches_torchvision(int h, int w, double scale)
    {
        using var scope = NewDisposeScope();
        var actual = RoIPool.Apply(Get(F, "roi_align.features"), Get(F, "roi_align.rois"), (h, w), scale);
        AssertClose(Get(F, $"roi_pool.out.{h}x{w}.{scale}"), actual, 0, "roi_pool");
    }

    [Fact]
    public void MultiScaleRoIAlign_matches_torchvision_levels_and_values()
    {
        using var scope = NewDisposeScope();
        var features = Enumerable.Range(0, 4).Select(i => Get(F, $"msroi.feat.{i}")).ToArray();
        var boxes = new[] { Get(F, "msroi.boxes0"), Get(F, "msroi.boxes1") };
        var sizes = Get(F, "msroi.image_shapes").data<long>().ToArray();
        var imageSizes = new[] { (sizes[0], sizes[1]), (sizes[2], sizes[3]) };
        var pooler = new MultiScaleRoIAlign(7, 2);
        var (_, mapper) = pooler.SetupScales(features, imageSizes);
        AssertEqual(Get(F, "msroi.levels"), mapper.Map(cat(boxes, 0)), "levels");
        AssertClose(Get(F, "msroi.out"), pooler.Forward(features, boxes, imageSizes), 1e-5, "pooled");
    }

    [Theory]
    [InlineData(0.3)]
    [InlineData(0.5)]
    [InlineData(0.7)]
    public void Nms_and_batched_nms_match_torchvision(double threshold)
    {
        using var scope = NewDisposeScope();
        var (boxes, scores, idxs) = (Get(F, "nms.boxes"), Get(F, "nms.scores"), Get(F, "nms.idxs"));
        AssertEqual(Get(F, $"nms.keep.{threshold}"), Nms.Apply(boxes, scores, threshold), "nms");
        AssertEqual(Get(F, $"batched_nms.keep.{threshold}"), Nms.Batched(boxes, scores, idxs, threshold), "batched_nms");
    }

    [Fact]
    public void Batched_nms_matches_torchvision_on_many_boxes()
    {
        using var scope = NewDisposeScope();
        var keep = Nms.Batched(Get(F, "nms_big.boxes"), Get(F, "nms_big.scores"), Get(F, "nms_big.idxs"), 0.7);
        AssertEqual(Get(F, "nms_big.keep.0.7"), keep, "batched_nms (1500 boxes)");
    }

    [Fact]
    public void Nms_of_nothing_is_empty()
    {
        using var scope = NewDisposeScope();
        Assert.Equal(0, Nms.Apply(zeros(0, 4), zeros(0), 0.5).shape[0]);
        Assert.Equal(0, Nms.Batched(zeros(0, 4), zeros(0), zeros(0, dtype: int64), 0.5).shape[0]);
    }

    [Fact]
    public void BoxIou_matches_torchvision()
    {
        using var scope = NewDisposeScope();
        AssertClose(Get(F, "box_iou.out"), BoxOps.BoxIou(Get(F, "box_iou.a"), Get(F, "box_iou.b")), 1e-7, "box_iou");
    }
}
