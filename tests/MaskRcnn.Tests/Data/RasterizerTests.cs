using MaskRcnn.Data;
using MaskRcnn.Data.Via;
using TorchSharp;
using static TorchSharp.torch;

namespace MaskRcnn.Tests.Data;

public class RasterizerTests
{
    static string Draw(byte[] mask, int w) =>
        string.Join(
            "\n",
            Enumerable
                .Range(0, mask.Length / w)
                .Select(r => string.Concat(mask.Skip(r * w).Take(w).Select(b => b == 1 ? '#' : '.')))
        );

    [Fact]
    public void Rect_covers_pixel_centres_including_its_edges()
    {
        // x 1..3, y 1..2: the centres (c, r) with 1 ≤ c ≤ 3 and 1 ≤ r ≤ 2.
        Assert.Equal(
            """
            .....
            .###.
            .###.
            .....
            """.Replace("\r", ""),
            Draw(Rasterizer.Rasterize(new RectShape(1, 1, 2, 1), 5, 4), 5)
        );
    }

    [Fact]
    public void Circle_and_ellipse_follow_the_same_rule()
    {
        Assert.Equal(
            """
            .....
            ..#..
            .###.
            ..#..
            .....
            """.Replace("\r", ""),
            Draw(Rasterizer.Rasterize(new CircleShape(2, 2, 1), 5, 5), 5)
        );
        Assert.Equal(
            """
            .......
            ...#...
            .#####.
            ...#...
            .......
            """.Replace("\r", ""),
            Draw(Rasterizer.Rasterize(new EllipseShape(3, 2, 2, 1, 0), 7, 5), 7)
        );
    }

    [Fact]
    public void Rotated_ellipse_has_its_long_axis_vertical()
    {
        // θ = 90°: the 2-pixel semi-axis runs along y.
        Assert.Equal(
            """
            ...#...
            ...#...
            ..###..
            ...#...
            ...#...
            """.Replace("\r", ""),
            Draw(Rasterizer.Rasterize(new EllipseShape(3, 2, 2, 1, Math.PI / 2), 7, 5), 7)
        );
    }

    [Fact]
    public void Shapes_without_area_rasterise_to_nothing()
    {
        Assert.All(Rasterizer.Rasterize(new PointShape(2, 2), 5, 5), b => Assert.Equal(0, b));
        Assert.All(Rasterizer.Rasterize(new PolylineShape([0, 4], [0, 4]), 5, 5), b => Assert.Equal(0, b));
    }

    [Fact]
    public void Polygons_match_skimage_draw_polygon()
    {
        var f = Fixtures.Load("polygons.pt");
        int count = f.Keys.Count(k => k.EndsWith(".mask"));
        Assert.True(count >= 10);
        for (int i = 0; i < count; i++)
        {
            var rows = f[$"poly.{i}.rows"].data<double>().ToArray();
            var cols = f[$"poly.{i}.cols"].data<double>().ToArray();
            var expected = f[$"poly.{i}.mask"].data<byte>().ToArray();
            var ours = Rasterizer.Rasterize(new PolygonShape(cols, rows), 50, 40);
            Assert.True(
                expected.SequenceEqual(ours),
                $"polygon {i} differs from skimage:\n{Draw(ours, 50)}\nexpected\n{Draw(expected, 50)}"
            );
        }
    }

    [Fact]
    public void Bounding_box_of_a_mask_is_exclusive_at_the_far_edges()
    {
        var mask = Rasterizer.Rasterize(new RectShape(1, 1, 2, 1), 5, 4);
        Assert.Equal((1, 1, 4, 3), Rasterizer.BoundingBox(mask, 5, 4));
        Assert.Null(Rasterizer.BoundingBox(new byte[20], 5, 4));
        using var t = tensor(mask, new long[] { 1, 4, 5 });
        Assert.Equal(new float[] { 1, 1, 4, 3 }, Dataset.MasksToBoxes(t).data<float>().ToArray());
    }
}
