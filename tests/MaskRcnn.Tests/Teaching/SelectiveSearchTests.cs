using MaskRcnn.Data;
using MaskRcnn.Modeling.Ops;
using MaskRcnn.Teaching;
using static TorchSharp.torch;

namespace MaskRcnn.Tests.Teaching;

/// <summary>Felzenszwalb–Huttenlocher segmentation and selective search on images whose regions are known.</summary>
public class SelectiveSearchTests
{
    /// <summary>A 120 × 80 image: background 200, a dark square (x 10–39, y 20–49, value 40) and a grey bar (x 60–99,
    /// y 10–29, value 120), with noise of ±0.5.</summary>
    static float[] TwoShapes()
    {
        var random = new Random(1);
        var image = new float[120 * 80];
        for (int y = 0; y < 80; y++)
        for (int x = 0; x < 120; x++)
        {
            float v = 200;
            if (x is >= 10 and < 40 && y is >= 20 and < 50)
                v = 40;
            else if (x is >= 60 and < 100 && y is >= 10 and < 30)
                v = 120;
            image[y * 120 + x] = v + (float)(random.NextDouble() - 0.5);
        }
        return image;
    }

    [Fact]
    public void Graph_segmentation_finds_the_two_shapes_and_the_background()
    {
        // No blur: a blurred step becomes a ramp whose pixels form thin regions of their own along each edge.
        var result = GraphSegmentation.Segment(TwoShapes(), 120, 80, k: 100, minSize: 20, sigma: 0);
        Assert.Equal(3, result.Count);
        int Label(int x, int y) => result.Labels[y * 120 + x];
        Assert.Equal(3, new[] { Label(0, 0), Label(25, 35), Label(80, 20) }.Distinct().Count());
        int square = Label(25, 35);
        Assert.Equal(30 * 30, result.Labels.Count(l => l == square));
    }

    [Fact]
    public void A_larger_scale_gives_fewer_regions()
    {
        var noisy = Enumerable.Range(0, 64 * 64).Select(i => (float)(i * 7919 % 256)).ToArray();
        int fine = GraphSegmentation.Segment(noisy, 64, 64, k: 20, minSize: 5).Count;
        int coarse = GraphSegmentation.Segment(noisy, 64, 64, k: 400, minSize: 5).Count;
        Assert.True(coarse < fine, $"k = 400: {coarse} regions, k = 20: {fine}");
    }

    [Fact]
    public void Selective_search_proposes_each_shape_and_the_whole_image_and_repeats()
    {
        using var scope = NewDisposeScope();
        var image = tensor(TwoShapes()).view(80, 120) / 255;
        var result = SelectiveSearch.Run(image, new SelectiveSearch.Options([100], Sigma: 0));
        var boxes = result.Boxes.ToFloatArray().Chunk(4).Select(b => (b[0], b[1], b[2], b[3])).ToList();
        Assert.Contains((10f, 20f, 40f, 50f), boxes);
        Assert.Contains((60f, 10f, 100f, 30f), boxes);
        Assert.Contains((0f, 0f, 120f, 80f), boxes);
        // 3 regions and 2 merges in each of the two similarity sets: the background's box and both merges' boxes are
        // the whole image, so 3 boxes are left once duplicates are removed.
        Assert.Equal(3, boxes.Count);
        Assert.Equal(
            result.Boxes.ToFloatArray(),
            SelectiveSearch.Run(image, new([100], Sigma: 0)).Boxes.ToFloatArray()
        );
    }

    [Fact]
    public void On_a_phantom_every_lesion_has_a_close_proposal()
    {
        using var scope = NewDisposeScope();
        var test = DatasetLoader.LoadSplit(Path.Combine(TestSupport.RepoRoot, "data", "phantom"), "test");
        int index = test.Images.ToList().FindIndex(i => i.Instances.Count > 0);
        using var sample = test.Load(index);
        var result = SelectiveSearch.Run(sample.Image);
        Assert.InRange(result.Boxes.shape[0], 100, 5000);
        var best = BoxOps.BoxIou(result.Boxes, sample.Boxes).amax([0]).ToFloatArray();
        Assert.All(best, iou => Assert.True(iou >= 0.7, $"best IoU {iou:F2}"));
    }
}
