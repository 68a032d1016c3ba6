using System.Text.Json.Nodes;
using MaskRcnn.Data;
using MaskRcnn.Data.Via;

namespace MaskRcnn.Tests.Data;

public class ViaReaderTests
{
    [Fact]
    public void Reads_a_1x_export_with_every_shape()
    {
        var doc = ViaReader.Parse(ViaSamples.Export1, "v1.json");
        Assert.Equal(ViaFlavour.Export1, doc.Flavour);
        Assert.Equal(2, doc.Images.Count);
        var a = doc.Images[0];
        Assert.Equal("a.png", a.FileName);
        Assert.Equal(123, a.FileSize);
        Assert.Equal(["polygon", "rect", "circle", "ellipse", "point"], a.Regions.Select(r => r.ShapeName));
        var poly = Assert.IsType<PolygonShape>(a.Regions[0].Shape);
        Assert.Equal(4, poly.Xs.Length); // the repeated closing point is dropped
        Assert.Equal(new RectShape(20, 4, 6, 5), a.Regions[1].Shape);
        Assert.Equal(new CircleShape(10, 20, 4), a.Regions[2].Shape);
        Assert.Equal(new EllipseShape(25, 20, 5, 3, 0), a.Regions[3].Shape);
        Assert.Equal(new PointShape(5, 25), a.Regions[4].Shape);
        Assert.Empty(doc.Problems);
    }

    [Fact]
    public void Reads_a_2x_export_with_checkbox_labels_and_rotation()
    {
        var doc = ViaReader.Parse(ViaSamples.Export2, "v2.json");
        Assert.Equal(ViaFlavour.Export2, doc.Flavour);
        var regions = doc.Images[0].Regions;
        Assert.Null(doc.Images[0].FileSize); // size -1
        Assert.Equal(Math.PI / 2, Assert.IsType<EllipseShape>(regions[1].Shape).Theta, 12);
        Assert.IsType<PolylineShape>(regions[2].Shape);
        Assert.Equal(["benign"], LabelResolver.Values(regions[0].Attributes, "type"));
        Assert.Equal("type", LabelResolver.DetectLabelKey(doc, LabelOptions.Default));
    }

    [Fact]
    public void Reads_a_2x_project()
    {
        var doc = ViaReader.Parse(ViaSamples.Project2, "p2.json");
        Assert.Equal(ViaFlavour.Project2, doc.Flavour);
        Assert.Equal(2, doc.Images.Count);
        Assert.Equal(2, doc.RegionCount);
        Assert.NotNull(doc.RegionAttributeDefinitions?["lesion"]);
        Assert.Equal("lesion", LabelResolver.DetectLabelKey(doc, LabelOptions.Default));
    }

    [Fact]
    public void Reads_a_3x_project_with_every_shape_code_and_option_ids()
    {
        var doc = ViaReader.Parse(ViaSamples.Project3, "p3.json");
        Assert.Equal(ViaFlavour.Project3, doc.Flavour);
        var a = doc.Images.Single(i => i.FileName == "a.png");
        Assert.Equal(
            [
                "polygon",
                "rect",
                "circle",
                "ellipse",
                "point",
                "line",
                "polyline",
                "extreme_rectangle",
                "extreme_circle",
            ],
            a.Regions.Select(r => r.ShapeName)
        );
        Assert.Equal(new RectShape(30, 1, 8, 8), a.Regions[7].Shape); // bounding box of the four extreme points
        var circle = Assert.IsType<CircleShape>(a.Regions[8].Shape); // through (4,30), (8,34), (12,30)
        Assert.Equal(8, circle.Cx, 9);
        Assert.Equal(30, circle.Cy, 9);
        Assert.Equal(4, circle.R, 9);
        Assert.Equal("benign", a.Regions[0].Attributes["class"]!.ToString());
        Assert.Equal("malignant", a.Regions[1].Attributes["class"]!.ToString());
        Assert.Equal(["benign", "malignant"], LabelResolver.Values(a.Regions[8].Attributes, "class")); // checkbox "0,1"
        Assert.Empty(doc.Images.Single(i => i.FileName == "b.png").Regions);
    }

    [Fact]
    public void Video_projects_are_refused_cleanly()
    {
        var json = ViaSamples.Project3.Replace(
            "\"type\":2,\"loc\":1,\"src\":\"\"},\"2\"",
            "\"type\":4,\"loc\":1,\"src\":\"\"},\"2\""
        );
        var e = Assert.Throws<ViaFormatException>(() => ViaReader.Parse(json, "video.json"));
        Assert.Contains("video.json", e.Message);
        Assert.Contains("video", e.Message);
    }

    [Theory]
    [InlineData("{not json", "not valid JSON")]
    [InlineData("[1, 2, 3]", "top level is not a JSON object")]
    [InlineData("{\"a\": {\"b\": 1}}", "no image entry has a \"filename\"")]
    [InlineData("{\"_via_img_metadata\": []}", "\"_via_img_metadata\" is not an object")]
    public void Non_via_input_is_a_clear_error(string json, string expected)
    {
        var e = Assert.Throws<ViaFormatException>(() => ViaReader.Parse(json, "bad.json"));
        Assert.StartsWith("bad.json: ", e.Message);
        Assert.Contains(expected, e.Message);
    }

    [Theory]
    [InlineData("""{"name":"polygon","all_points_x":[1,2],"all_points_y":[1,2]}""", "needs ≥ 3")]
    [InlineData("""{"name":"polygon","all_points_x":[1,2,3]}""", "missing \"all_points_y\"")]
    [InlineData("""{"name":"polygon","all_points_x":[1,"x",3],"all_points_y":[1,2,3]}""", "non-numeric")]
    [InlineData("""{"name":"polygon","all_points_x":[1,null,3],"all_points_y":[1,2,3]}""", "non-numeric")]
    [InlineData("""{"name":"polygon","all_points_x":[1,2,3,4],"all_points_y":[1,2,3]}""", "4 x values but 3 y values")]
    [InlineData("""{"name":"rect","x":1,"y":2,"width":0,"height":3}""", "rect with width 0")]
    [InlineData("""{"name":"circle","cx":1,"cy":2}""", "missing \"r\"")]
    [InlineData("""{"name":"hexagon","cx":1}""", "unknown shape \"hexagon\"")]
    public void Bad_regions_are_problems_naming_image_and_region(string shape, string expected)
    {
        string json =
            """{"x.png1":{"filename":"x.png","size":1,"regions":[{"shape_attributes":{"name":"point","cx":1,"cy":1},"region_attributes":{}},{"shape_attributes":"""
            + shape
            + ""","region_attributes":{}}]}}""";
        var doc = ViaReader.Parse(json, "f.json");
        var problem = Assert.Single(doc.Problems);
        Assert.Equal("x.png", problem.Image);
        Assert.Equal(1, problem.Region);
        Assert.Contains(expected, problem.Message);
        Assert.Null(doc.Images[0].Regions[1].Shape);
        Assert.Equal(2, doc.RegionCount); // still counted
    }

    [Fact]
    public void Writer_round_trips_shapes_and_attributes()
    {
        foreach (
            var sample in new[] { ViaSamples.Export1, ViaSamples.Export2, ViaSamples.Project2, ViaSamples.Project3 }
        )
        {
            var doc = ViaReader.Parse(sample);
            var again = ViaReader.Parse(ViaWriter.ToJson(ViaWriter.FromDocument(doc)));
            Assert.Equal(ViaFlavour.Export2, again.Flavour);
            var before = doc.Images.SelectMany(i => i.Regions).Where(r => r.Shape is not null).ToList();
            var after = again.Images.SelectMany(i => i.Regions).ToList();
            Assert.Equal(before.Count, after.Count);
            for (int i = 0; i < before.Count; i++)
            {
                var expected = before[i].Shape is LineShape l
                    ? new PolylineShape([l.X1, l.X2], [l.Y1, l.Y2])
                    : before[i].Shape;
                Assert.Equal(Describe(expected!), Describe(after[i].Shape!));
                Assert.True(JsonNode.DeepEquals(before[i].Attributes, after[i].Attributes));
            }
        }
    }

    static string Describe(ViaShape s) =>
        s switch
        {
            PolygonShape p => $"polygon {string.Join(",", p.Xs)} / {string.Join(",", p.Ys)}",
            PolylineShape p => $"polyline {string.Join(",", p.Xs)} / {string.Join(",", p.Ys)}",
            _ => s.ToString(),
        };
}
