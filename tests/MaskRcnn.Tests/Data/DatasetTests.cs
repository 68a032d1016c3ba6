using MaskRcnn.Data;
using MaskRcnn.Data.Via;
using TorchSharp;
using static TorchSharp.torch;

namespace MaskRcnn.Tests.Data;

public class DatasetTests
{
    static void WriteImage(string path, int w, int h, bool gray = false)
    {
        var rgb = new byte[w * h * 3];
        for (int i = 0; i < w * h; i++)
        {
            rgb[i * 3] = (byte)(i % 251);
            rgb[i * 3 + 1] = gray ? rgb[i * 3] : (byte)(i % 13);
            rgb[i * 3 + 2] = gray ? rgb[i * 3] : (byte)40;
        }
        ImageIO.WritePng(path, rgb, new ImageSize(w, h));
    }

    static string Folder(TestSupport.TempDir tmp, string json)
    {
        File.WriteAllText(tmp["via.json"], json);
        WriteImage(tmp["a.png"], 40, 32);
        WriteImage(tmp["b.png"], 30, 20);
        return tmp["via.json"];
    }

    [Fact]
    public void Loads_instances_with_classes_and_reports_skipped_regions()
    {
        using var tmp = new TestSupport.TempDir();
        var ds = DatasetLoader.FromVia(Folder(tmp, ViaSamples.Export1));
        Assert.Equal(2, ds.Count);
        var a = ds.Images[0];
        Assert.Equal((40, 32), (a.Width, a.Height));
        // " Benign ", "MALIGNANT", …; the point is skipped
        Assert.Equal([1, 2, 1, 2], a.Instances.Select(i => i.ClassId));
        Assert.Contains(
            ds.Problems,
            p => p.Image == "a.png" && p.Region == 4 && p.Message.Contains("point has no area")
        );
        Assert.Equal("malignant", a.ImageClass(ds.Classes));
        Assert.Equal("normal", ds.Images[1].ImageClass(ds.Classes));
    }

    [Fact]
    public void Samples_hold_masks_boxes_and_labels()
    {
        using var tmp = new TestSupport.TempDir();
        var ds = DatasetLoader.FromVia(Folder(tmp, ViaSamples.Export1));
        using var s = ds.Load(0);
        Assert.Equal(new long[] { 3, 32, 40 }, s.Image.shape);
        Assert.Equal(new long[] { 4, 32, 40 }, s.Masks.shape);
        Assert.Equal(new long[] { 1, 2, 1, 2 }, s.Labels.data<long>().ToArray());
        // Polygon (2..12, 3..9) covers pixel centres x 2..12, y 3..9 → box (2, 3, 13, 10).
        Assert.Equal(new float[] { 2, 3, 13, 10 }, s.Boxes[0].data<float>().ToArray());
        Assert.Equal(11 * 7, s.Masks[0].sum().item<long>());
        Assert.True(s.Image.min().item<float>() >= 0 && s.Image.max().item<float>() <= 1);
    }

    [Fact]
    public void Grayscale_images_become_three_equal_channels()
    {
        using var tmp = new TestSupport.TempDir();
        WriteImage(tmp["g.png"], 8, 6, gray: true);
        using var t = ImageIO.ReadTensor(tmp["g.png"]);
        Assert.True(t[0].eq(t[1]).all().item<bool>() && t[1].eq(t[2]).all().item<bool>());
    }

    [Fact]
    public void Checkbox_dropdown_and_option_id_labels_all_resolve()
    {
        foreach (
            var (json, expected) in new[]
            {
                (ViaSamples.Export2, new[] { 1, 2 }),
                (ViaSamples.Project2, new[] { 2, 1 }),
                (ViaSamples.Project3, new[] { 1, 2, 1, 2, 2 }),
            }
        )
        {
            using var tmp = new TestSupport.TempDir();
            var ds = DatasetLoader.FromVia(Folder(tmp, json));
            Assert.Equal(expected, ds.Images[0].Instances.Select(i => i.ClassId));
        }
    }

    [Fact]
    public void Unlabelled_and_unknown_labels_follow_the_policy()
    {
        const string json = """
            {"a.png1":{"filename":"a.png","size":1,"regions":[
              {"shape_attributes":{"name":"rect","x":1,"y":1,"width":4,"height":4},"region_attributes":{"class":"benign"}},
              {"shape_attributes":{"name":"rect","x":10,"y":1,"width":4,"height":4},"region_attributes":{}},
              {"shape_attributes":{"name":"rect","x":20,"y":1,"width":4,"height":4},"region_attributes":{"class":"cyst"}}]}}
            """;
        using var tmp = new TestSupport.TempDir();
        string file = Folder(tmp, json);
        var skip = DatasetLoader.FromVia(file);
        Assert.Single(skip.Images[0].Instances);
        Assert.Contains(skip.Problems, p => p.Region == 1 && p.Message.Contains("no label"));
        Assert.Contains(skip.Problems, p => p.Region == 2 && p.Message.Contains("unknown label 'cyst'"));

        var withDefault = DatasetLoader.FromVia(
            file,
            labels: LabelOptions.Default with
            {
                Unlabeled = UnlabeledPolicy.DefaultClass,
                DefaultClass = "benign",
            }
        );
        Assert.Equal(2, withDefault.Images[0].Instances.Count);

        var synonyms = DatasetLoader.FromVia(
            file,
            labels: LabelOptions.Default with
            {
                Synonyms = new Dictionary<string, string> { ["Cyst"] = "benign" },
            }
        );
        Assert.Equal(2, synonyms.Images[0].Instances.Count);

        var e = Assert.Throws<ViaFormatException>(() =>
            DatasetLoader.FromVia(file, labels: LabelOptions.Default with { Unlabeled = UnlabeledPolicy.Error })
        );
        Assert.Contains("a.png region 1", e.Message);
    }

    [Fact]
    public void Missing_corrupt_and_oversized_images_are_reported_not_thrown()
    {
        using var tmp = new TestSupport.TempDir();
        string file = Folder(tmp, ViaSamples.Export1);
        File.Delete(tmp["b.png"]);
        var missing = DatasetLoader.FromVia(file);
        Assert.Contains(missing.Problems, p => p.Image == "b.png" && p.Message.Contains("not found"));

        File.WriteAllBytes(tmp["b.png"], [0x89, 0x50, 0x4e, 0x47, 1, 2, 3]);
        var corrupt = DatasetLoader.FromVia(file);
        Assert.Contains(corrupt.Problems, p => p.Image == "b.png" && p.Message.Contains("b.png"));
        Assert.Single(corrupt.Images);

        var small = DatasetLoader.FromVia(file, maxPixels: 1000);
        Assert.Contains(small.Problems, p => p.Image == "a.png" && p.Message.Contains("pixel limit"));
        Assert.Throws<ImageReadException>(() => ImageIO.ReadRgb(tmp["a.png"], maxPixels: 100));
    }

    [Fact]
    public void Shapes_outside_the_image_are_clipped_and_reported()
    {
        const string json =
            """{"a.png1":{"filename":"a.png","size":1,"regions":[{"shape_attributes":{"name":"rect","x":-5,"y":20,"width":10,"height":30},"region_attributes":{"class":"benign"}}]}}""";
        using var tmp = new TestSupport.TempDir();
        var ds = DatasetLoader.FromVia(Folder(tmp, json));
        Assert.Contains(ds.Problems, p => p.Message.Contains("outside the 40×32 image; clipped"));
        using var s = ds.Load(0);
        Assert.Equal(new float[] { 0, 20, 6, 32 }, s.Boxes[0].data<float>().ToArray());
    }

    [Fact]
    public void Augmentation_is_deterministic_and_keeps_masks_boxes_and_image_aligned()
    {
        using var tmp = new TestSupport.TempDir();
        var ds = DatasetLoader.FromVia(Folder(tmp, ViaSamples.Export1));
        var aug = new Augmenter(FlipProbability: 1.0, MinScale: 1.2, MaxScale: 1.2, SpeckleSigma: 0.05);
        using var plain = ds.Load(0);
        using var a = ds.Load(0, aug, 7);
        using var b = ds.Load(0, aug, 7);
        Assert.True(a.Image.eq(b.Image).all().item<bool>());
        Assert.Equal(new long[] { 3, 38, 48 }, a.Image.shape);
        Assert.Equal(new long[] { 4, 38, 48 }, a.Masks.shape);
        Assert.True(Dataset.MasksToBoxes(a.Masks).eq(a.Boxes).all().item<bool>());
        // Flipped: the first instance (left side) now sits on the right.
        Assert.True(a.Boxes[0, 0].item<float>() > 48 / 2f);
        Assert.Equal(plain.Labels.data<long>().ToArray(), a.Labels.data<long>().ToArray());
    }

    [Fact]
    public void Epoch_order_is_a_deterministic_permutation()
    {
        var ds = new Dataset(
            "x",
            ["benign"],
            Enumerable.Range(0, 20).Select(i => new AnnotatedImage($"{i}.png", "", 1, 1, [])).ToList(),
            []
        );
        Assert.Equal(ds.Order(3, 1), ds.Order(3, 1));
        Assert.NotEqual(ds.Order(3, 1), ds.Order(4, 1));
        Assert.Equal(Enumerable.Range(0, 20), ds.Order(3, 1).Order());
    }

    [Fact]
    public void Epoch_order_is_the_same_in_every_process()
    {
        // Pinned: an order derived from a per-process hash (HashCode.Combine) made every training run different.
        var ds = new Dataset(
            "x",
            ["benign"],
            Enumerable.Range(0, 10).Select(i => new AnnotatedImage($"{i}.png", "", 1, 1, [])).ToList(),
            []
        );
        Assert.Equal([4, 7, 0, 5, 9, 3, 6, 2, 8, 1], ds.Order(0, 0));
        Assert.Equal([0, 5, 6, 1, 4, 3, 2, 7, 9, 8], ds.Order(3, 1));
    }
}
