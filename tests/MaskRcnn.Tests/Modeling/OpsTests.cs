using MaskRcnn.Modeling.Kernels;
using MaskRcnn.Modeling.Ops;
using TorchSharp;
using static MaskRcnn.Tests.Fixtures;
using static TorchSharp.torch;

namespace MaskRcnn.Tests.Modeling;

public class OpsTests
{
    const string F = "ops.pt";

    public static TheoryData<bool, int, int, int, double, bool> RoIAlignCases()
    {
        var cases = new TheoryData<bool, int, int, int, double, bool>();
        foreach (var sparse in new[] { false, true })
        {
            cases.Add(false, 2, 7, 7, 0.25, sparse);
            cases.Add(false, 0, 7, 7, 0.25, sparse);
            cases.Add(false, -1, 5, 3, 0.125, sparse);
            cases.Add(false, 3, 5, 3, 0.125, sparse);
            cases.Add(true, 2, 7, 7, 0.25, sparse);
            cases.Add(true, 0, 5, 3, 0.125, sparse);
            cases.Add(true, -1, 7, 7, 0.25, sparse);
            cases.Add(true, 3, 7, 7, 0.25, sparse);
        }
        return cases;
    }

    [Theory]
    [MemberData(nameof(RoIAlignCases))]
    public void RoIAlign_matches_torchvision(bool aligned, int samplingRatio, int h, int w, double scale, bool sparse)
    {
        using var scope = NewDisposeScope();
        var expected = Get(F, $"roi_align.out.{(aligned ? 1 : 0)}.{samplingRatio}.{h}x{w}.{scale}");
        var (features, rois) = (Get(F, "roi_align.features"), Get(F, "roi_align.rois"));
        var actual = sparse
            ? RoIAlign.ApplySparse(features, rois, (h, w), scale, samplingRatio, aligned)
            : RoIAlign.ApplyGather(features, rois, (h, w), scale, samplingRatio, aligned);
        AssertClose(expected, actual, 1e-5, sparse ? "roi_align (sparse)" : "roi_align (gather)");
    }

    [Fact]
    public void RoIAlign_is_differentiable_and_both_formulations_give_the_same_gradient()
    {
        using var scope = NewDisposeScope();
        Tensor Gradient(Func<Tensor, Tensor, Tensor> pool)
        {
            var features = Get(F, "roi_align.features").clone().requires_grad_(true);
            var output = pool(features, Get(F, "roi_align.rois"));
            (output * arange(output.numel(), dtype: output.dtype).view(output.shape).sin()).sum().backward();
            return features.grad!.detach().clone();
        }
        var gather = Gradient((f, r) => RoIAlign.ApplyGather(f, r, (7, 7), 0.25, 2));
        var sparse = Gradient((f, r) => RoIAlign.ApplySparse(f, r, (7, 7), 0.25, 2));
        Assert.True(gather.abs().sum().item<float>() > 0);
        AssertClose(gather, sparse, 1e-5, "roi_align gradient");
    }

    [Fact]
    public void RoIAlign_picks_the_sparse_formulation_for_many_channels_and_matches_the_gathers()
    {
        using var scope = NewDisposeScope();
        var generator = new torch.Generator(3);
        var features = rand(new long[] { 2, 64, 20, 24 }, generator: generator);
        var rois = Get(F, "roi_align.rois");
        AssertClose(
            RoIAlign.ApplyGather(features, rois, (7, 7), 0.25, 0),
            RoIAlign.Apply(features, rois, (7, 7), 0.25, 0),
            1e-5,
            "64-channel roi_align"
        );
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
        var contiguous = pooler.Forward(features, boxes, imageSizes);
        Assert.True(contiguous.is_contiguous(), "torchvision's layout");
        AssertClose(Get(F, "msroi.out"), contiguous, 1e-5, "pooled");

        // As the model pools for its mask head (Layers.RoIAlign): channels-last, the same values.
        var channelsLast = new FullPrecisionRoIAlign(7, 2).Forward(features, boxes, imageSizes);
        Assert.True(channelsLast.IsChannelsLast());
        AssertClose(Get(F, "msroi.out"), channelsLast, 1e-5, "pooled, channels-last layout");
        var forLinear = new FullPrecisionRoIAlign(7, 2) { ChannelsLastOutput = false }.Forward(
            features,
            boxes,
            imageSizes
        );
        Assert.True(forLinear.is_contiguous());
        AssertClose(Get(F, "msroi.out"), forLinear, 1e-5, "pooled, contiguous layout");
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
        AssertEqual(
            Get(F, $"batched_nms.keep.{threshold}"),
            Nms.Batched(boxes, scores, idxs, threshold),
            "batched_nms"
        );
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
