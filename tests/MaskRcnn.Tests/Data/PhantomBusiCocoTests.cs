using System.Security.Cryptography;
using System.Text.Json;
using MaskRcnn.Data;
using MaskRcnn.Data.Busi;
using MaskRcnn.Data.Coco;
using MaskRcnn.Data.Phantoms;
using MaskRcnn.Data.Via;

namespace MaskRcnn.Tests.Data;

public class PhantomBusiCocoTests
{
    static Dictionary<string, string> Hashes(string dir) =>
        Directory
            .GetFiles(dir, "*", SearchOption.AllDirectories)
            .ToDictionary(
                f => Path.GetRelativePath(dir, f),
                f => Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(f)))
            );

    [Fact]
    public void Phantoms_are_byte_for_byte_deterministic()
    {
        using var a = new TestSupport.TempDir();
        using var b = new TestSupport.TempDir();
        PhantomDataset.Write(a.Path, 5, 6, 2, 2, 128);
        PhantomDataset.Write(b.Path, 5, 6, 2, 2, 128);
        Assert.Equal(Hashes(a.Path), Hashes(b.Path));
        using var c = new TestSupport.TempDir();
        PhantomDataset.Write(c.Path, 6, 6, 2, 2, 128);
        Assert.NotEqual(Hashes(a.Path)["train/phantom_train_0000.png"], Hashes(c.Path)["train/phantom_train_0000.png"]);
    }

    [Fact]
    public void Busi_phantoms_are_deterministic_non_square_and_load_as_a_data_folder()
    {
        using var a = new TestSupport.TempDir();
        using var b = new TestSupport.TempDir();
        PhantomDataset.Write(a.Path, 5, 6, 2, 2, difficulty: "busi");
        PhantomDataset.Write(b.Path, 5, 6, 2, 2, difficulty: "busi");
        Assert.Equal(Hashes(a.Path), Hashes(b.Path));
        var split = DatasetLoader.LoadSplit(a.Path, "train");
        Assert.Equal(6, split.Count);
        Assert.Empty(split.Problems);
        Assert.All(split.Images, i => Assert.InRange(i.Width, 440, 650));
        Assert.All(split.Images, i => Assert.InRange(i.Height, 400, 560));
        Assert.Contains(split.Images, i => i.Width != i.Height);
        // The easy phantoms of the same seed are another thing entirely (and unchanged: see the bundled-data test).
        using var easy = new TestSupport.TempDir();
        PhantomDataset.Write(easy.Path, 5, 6, 2, 2, 128);
        Assert.NotEqual(
            Hashes(a.Path)["train/phantom_train_0000.png"],
            Hashes(easy.Path)["train/phantom_train_0000.png"]
        );
        Assert.Throws<MaskRcnnException>(() => PhantomDataset.Write(easy.Path, 5, 1, 0, 0, difficulty: "hard"));
    }

    [Fact]
    public void Busi_lesions_overlap_between_the_classes_and_include_small_ones()
    {
        int benign = 0,
            benignTall = 0,
            malignant = 0,
            malignantWide = 0,
            small = 0,
            normal = 0;
        for (ulong s = 0; s < 80; s++)
        {
            var p = BusiPhantomGenerator.Generate(s);
            if (p.Lesions.Count == 0)
                normal++;
            foreach (var l in p.Lesions)
            {
                double w = l.Xs.Max() - l.Xs.Min(),
                    h = l.Ys.Max() - l.Ys.Min();
                if (w < 0.1 * p.Width)
                    small++;
                if (l.ClassName == "benign")
                {
                    benign++;
                    if (h >= w)
                        benignTall++;
                }
                else
                {
                    malignant++;
                    if (w > h)
                        malignantWide++;
                }
            }
        }
        Assert.True(
            normal > 5 && benign > 15 && malignant > 15,
            $"normal {normal}, benign {benign}, malignant {malignant}"
        );
        Assert.True(malignantWide > 0.15 * malignant, $"{malignantWide}/{malignant} malignant lesions wider than tall");
        Assert.True(benignTall > 0, "some benign lesions not wider than tall");
        Assert.True(small > 5, $"{small} lesions narrower than 10 % of the image");
    }

    [Fact]
    public void Bundled_data_is_exactly_what_the_documented_command_generates()
    {
        string bundled = Path.Combine(TestSupport.RepoRoot, "data", "phantom");
        using var tmp = new TestSupport.TempDir();
        var (code, _, err) = TestSupport.RunCli(
            "generate-phantoms",
            "--out",
            tmp.Path,
            "--seed",
            "2026",
            "--train",
            "120",
            "--val",
            "40",
            "--test",
            "40",
            "--size",
            "256"
        );
        Assert.True(code == 0, err);
        Assert.Equal(Hashes(bundled), Hashes(tmp.Path));
        long bytes = Directory.GetFiles(bundled, "*", SearchOption.AllDirectories).Sum(f => new FileInfo(f).Length);
        Assert.True(bytes < 15_000_000, $"data/phantom is {bytes:N0} bytes");
    }

    [Fact]
    public void Phantom_lesions_follow_their_class_shape_rules()
    {
        int benignWide = 0,
            benign = 0,
            malignantTall = 0,
            malignant = 0,
            normal = 0;
        for (ulong s = 0; s < 60; s++)
        {
            var p = PhantomGenerator.Generate(128, s);
            if (p.Lesions.Count == 0)
                normal++;
            foreach (var l in p.Lesions)
            {
                double w = l.Xs.Max() - l.Xs.Min(),
                    h = l.Ys.Max() - l.Ys.Min();
                if (l.ClassName == "benign")
                {
                    benign++;
                    if (w > h)
                        benignWide++;
                }
                else
                {
                    malignant++;
                    if (h > w)
                        malignantTall++;
                }
            }
        }
        Assert.True(benign > 10 && malignant > 10 && normal > 3);
        Assert.Equal(benign, benignWide); // always wider than tall
        Assert.True(
            malignantTall >= 0.8 * malignant,
            $"{malignantTall}/{malignant} malignant lesions taller than wide"
        );
    }

    [Fact]
    public void Bundled_split_loads_with_lesions_of_both_classes()
    {
        var ds = DatasetLoader.LoadSplit(Path.Combine(TestSupport.RepoRoot, "data", "phantom"), "train");
        Assert.Equal(120, ds.Count);
        Assert.Empty(ds.Problems);
        var classes = ds
            .Images.SelectMany(i => i.Instances)
            .GroupBy(i => i.ClassName)
            .ToDictionary(g => g.Key, g => g.Count());
        Assert.True(classes["benign"] > 30 && classes["malignant"] > 30);
        Assert.Contains(ds.Images, i => i.Instances.Count == 0);
    }

    static void WriteMask(string path, int w, int h, params (int X, int Y, int W, int H)[] rects)
    {
        var rgb = new byte[w * h * 3];
        foreach (var (x, y, rw, rh) in rects)
            for (int r = y; r < y + rh; r++)
            for (int c = x; c < x + rw; c++)
                rgb[(r * w + c) * 3] = rgb[(r * w + c) * 3 + 1] = rgb[(r * w + c) * 3 + 2] = 255;
        ImageIO.WritePng(path, rgb, new ImageSize(w, h));
    }

    [Fact]
    public void Busi_import_turns_mask_components_into_polygons_that_rasterise_back_exactly()
    {
        using var busi = new TestSupport.TempDir();
        using var output = new TestSupport.TempDir();
        foreach (var cls in new[] { "benign", "malignant", "normal" })
            Directory.CreateDirectory(Path.Combine(busi.Path, cls));
        for (int i = 1; i <= 8; i++)
        {
            foreach (var cls in new[] { "benign", "malignant", "normal" })
            {
                string stem = Path.Combine(busi.Path, cls, $"{cls} ({i})");
                WriteMask(stem + ".png", 60, 40);
                if (cls == "normal")
                {
                    WriteMask(stem + "_mask.png", 60, 40);
                    continue;
                }
                // Two components in the first mask (an L shape and a square), a third object in a second mask file.
                WriteMask(stem + "_mask.png", 60, 40, (5, 5, 10, 4), (5, 9, 3, 8), (30, 20, 6, 6));
                if (i == 1)
                    WriteMask(stem + "_mask_1.png", 60, 40, (45, 2, 5, 5));
            }
        }
        var report = BusiImporter.Import(busi.Path, output.Path, seed: 1);
        Assert.Equal(24, report.Images.Values.Sum());
        Assert.Equal(2 * 8 + 1, report.Instances["benign"]);
        var all = DatasetLoader.Splits.Select(s => DatasetLoader.LoadSplit(output.Path, s)).ToList();
        Assert.Equal(24, all.Sum(d => d.Count));
        var image = all.SelectMany(d => d.Images).First(i => i.FileName == "malignant (1).png");
        Assert.Equal(3, image.Instances.Count);
        Assert.All(image.Instances, i => Assert.Equal(2, i.ClassId));
        var masks = image.Instances.Select(i => i.Rasterize(60, 40)).ToList();
        Assert.Equal(
            [10 * 4 + 3 * 8, 36, 25],
            masks
                .Select(m => m.Count(b => b == 1))
                .OrderDescending()
                .Take(2)
                .Append(masks.Select(m => m.Count(b => b == 1)).Min())
        );
        Assert.Contains(all.SelectMany(d => d.Images), i => i.FileName.StartsWith("normal") && i.Instances.Count == 0);
        // Stratified: every split holds every class.
        Assert.All(all, d => Assert.Equal(3, d.Images.Select(i => i.FileName.Split(' ')[0]).Distinct().Count()));
    }

    [Fact]
    public void Coco_export_then_import_keeps_every_mask()
    {
        using var tmp = new TestSupport.TempDir();
        var ds = DatasetLoader.LoadSplit(Path.Combine(TestSupport.RepoRoot, "data", "phantom"), "val");
        foreach (bool rle in new[] { false, true })
        {
            string path = tmp[$"coco_{rle}.json"];
            CocoInstances.Write(path, ds, rle);
            var back = CocoInstances.Import(path, Path.GetDirectoryName(ds.Images[0].Path));
            Assert.Equal(ds.Count, back.Count);
            for (int i = 0; i < ds.Count; i++)
            {
                var a = ds.Images[i];
                var b = back.Images[i];
                Assert.Equal(a.Instances.Select(x => x.ClassId), b.Instances.Select(x => x.ClassId));
                for (int k = 0; k < a.Instances.Count; k++)
                {
                    var ma = a.Instances[k].Rasterize(a.Width, a.Height);
                    var mb = b.Instances[k].Rasterize(b.Width, b.Height);
                    double inter = ma.Zip(mb).Count(p => p.First == 1 && p.Second == 1),
                        union = ma.Zip(mb).Count(p => p.First == 1 || p.Second == 1);
                    Assert.True(
                        inter / union > (rle ? 0.9999 : 0.97),
                        $"image {a.FileName} instance {k}: IoU {inter / union:F4}"
                    );
                }
            }
        }
    }

    [Fact]
    public void Inspect_data_cli_writes_the_contract_json_and_refuses_non_via()
    {
        using var tmp = new TestSupport.TempDir();
        string data = Path.Combine(TestSupport.RepoRoot, "data", "phantom", "test");
        var (code, _, err) = TestSupport.RunCli(
            "inspect-data",
            "--annotations",
            Path.Combine(data, "via_region_data.json"),
            "--images",
            data,
            "--json",
            tmp["out.json"]
        );
        Assert.True(code == 0, err);
        using var doc = JsonDocument.Parse(File.ReadAllText(tmp["out.json"]));
        var root = doc.RootElement;
        Assert.Equal("2.x-export", root.GetProperty("format").GetString());
        Assert.Equal(40, root.GetProperty("images").GetInt32());
        Assert.True(root.GetProperty("regions").GetInt32() > 20);
        Assert.True(root.GetProperty("shapes").GetProperty("polygon").GetInt32() > 20);
        Assert.True(root.GetProperty("classes").GetProperty("malignant").GetInt32() > 5);
        Assert.Equal(0, root.GetProperty("problems").GetArrayLength());

        File.WriteAllText(tmp["bad.json"], "{\"hello\": 1}");
        var (badCode, _, badErr) = TestSupport.RunCli(
            "inspect-data",
            "--annotations",
            tmp["bad.json"],
            "--json",
            tmp["bad_out.json"]
        );
        Assert.NotEqual(0, badCode);
        Assert.Single(badErr.Trim().Split('\n'));
        Assert.Contains("bad.json", badErr);
    }
}
