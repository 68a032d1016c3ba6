using MaskRcnn;
using MaskRcnn.Modeling.Kernels;
using MaskRcnn.Modeling.Ops;
using TorchSharp;
using static MaskRcnn.Tests.Fixtures;
using static TorchSharp.torch;

namespace MaskRcnn.Tests.Modeling;

/// <summary>
/// RoIPool's CPU kernel gives the reference's numbers bit for bit (and so torchvision's: OpsTests holds the
/// reference to torchvision's roi_pool), on boxes that cross the borders, fall outside, shrink to a point, sit on
/// half-cell rounding edges, and belong to either image of a batch; on contiguous and channels-last features.
/// </summary>
public class RoIPoolKernelTests
{
    static Tensor RandomRois(torch.Generator g, int count, int images, float width, float height)
    {
        var x = rand(new long[] { count, 2 }, generator: g) * (width * 1.3f) - width * 0.15f;
        var y = rand(new long[] { count, 2 }, generator: g) * (height * 1.3f) - height * 0.15f;
        var image = randint(0, images, new long[] { count, 1 }, generator: g).to(float32);
        return cat([image, x.amin([1], true), y.amin([1], true), x.amax([1], true), y.amax([1], true)], 1);
    }

    [Theory]
    [InlineData(7, 7, 0.25, 16)]
    [InlineData(7, 7, 0.0625, 128)]
    [InlineData(4, 6, 0.125, 13)]
    [InlineData(14, 14, 0.25, 3)]
    public void Kernel_equals_the_reference(int h, int w, double scale, int channels)
    {
        using var scope = NewDisposeScope();
        var g = new torch.Generator(17);
        var features = randn(new long[] { 2, channels, 23, 29 }, generator: g);
        float imageW = (float)(29 / scale),
            imageH = (float)(23 / scale);
        var rois = cat(
            [
                RandomRois(g, 60, 2, imageW, imageH),
                // a point, a box outside the map, exact half-cell corners, a box over the whole map
                tensor(new float[] { 0, 10, 10, 10, 10 }).view(1, 5),
                tensor(new float[] { 1, imageW + 50, imageH + 50, imageW + 90, imageH + 80 }).view(1, 5),
                tensor(
                        new float[]
                        {
                            1,
                            (float)(2.5 / scale),
                            (float)(0.5 / scale),
                            (float)(7.5 / scale),
                            (float)(5.5 / scale),
                        }
                    )
                    .view(1, 5),
                tensor(new float[] { 0, -20, -20, imageW + 20, imageH + 20 }).view(1, 5),
            ],
            0
        );
        var expected = RoIPool.Reference(features, rois, (h, w), scale);
        AssertEqual(expected, RoIPoolKernel.Pool(features, rois, (h, w), scale), "kernel, contiguous features");
        var channelsLast = features.ChannelsLast();
        Assert.True(channelsLast.IsChannelsLast());
        AssertEqual(expected, RoIPoolKernel.Pool(channelsLast, rois, (h, w), scale), "kernel, channels-last features");
        AssertEqual(expected, RoIPool.Apply(features, rois, (h, w), scale), "Apply");
    }

    [Fact]
    public void Kernel_matches_torchvision_on_its_fixture()
    {
        using var scope = NewDisposeScope();
        var actual = RoIPoolKernel.Pool(
            Get("ops.pt", "roi_align.features"),
            Get("ops.pt", "roi_align.rois"),
            (7, 7),
            0.25
        );
        AssertEqual(Get("ops.pt", "roi_pool.out.7x7.0.25"), actual, "roi_pool kernel");
    }

    [Fact]
    public void Apply_keeps_the_reference_where_a_gradient_is_recorded_and_for_other_dtypes()
    {
        using var scope = NewDisposeScope();
        var features = randn(1, 4, 10, 10).requires_grad_(true);
        var rois = tensor(new float[] { 0, 4, 4, 30, 26 }).view(1, 5);
        Assert.False(RoIPoolKernel.Applies(features));
        var pooled = RoIPool.Apply(features, rois, (3, 3), 0.25);
        pooled.sum().backward();
        Assert.NotNull(features.grad);
        using (no_grad())
            Assert.True(RoIPoolKernel.Applies(features));
        Assert.False(RoIPoolKernel.Applies(randn(1, 4, 10, 10, dtype: float64)));
        Assert.Empty(RoIPoolKernel.Pool(randn(1, 4, 10, 10), zeros(0, 5), (3, 3), 0.25).ToFloatArray());
    }
}
