using System.Text.Json;
using MaskRcnn.Data;
using static MaskRcnn.Tests.Reliability.ReliabilityData;
using static TorchSharp.torch;

namespace MaskRcnn.Tests.Reliability;

/// <summary>
/// Images and weights that cannot be used (issue 23): each is one line naming the file, and the rest goes on.
/// </summary>
public class ImageInputTests
{
    [Fact]
    public void Predict_reports_each_bad_image_on_its_own_line_and_writes_results_for_the_good_ones()
    {
        using var tmp = new TestSupport.TempDir();
        string data = DataFolder(tmp, train: 0, val: 0, test: 2),
            weights = RandomWeights(tmp);
        string good1 = Path.Combine(data, "test", "phantom_test_0000.png");
        string good2 = Path.Combine(data, "test", "phantom_test_0001.png");
        string thin = tmp["thin.png"],
            notImage = tmp["not-an-image.png"],
            missing = tmp["missing.png"];
        string huge = tmp["huge.png"];
        GrayPng(thin, 100_000, 1); // its short side would be resized to 0 px
        PngHeader(huge, 5000, 4000); // 20 megapixels: over the memory budget
        File.WriteAllText(notImage, "not an image");
        string json = tmp["results.json"];

        var (code, stdout, stderr) = TestSupport.RunCli(
            "predict",
            "--weights",
            weights,
            "--threads",
            "1",
            "--coco-json",
            json,
            "--image",
            good1,
            thin,
            notImage,
            good2,
            missing,
            huge
        );
        Assert.Equal(1, code);
        NoTrace(stderr);
        var errors = Lines(stderr);
        Assert.Equal(4, errors.Length);
        Assert.Contains(thin, errors[0]);
        Assert.Contains("100000×1", errors[0]);
        Assert.Contains(notImage, errors[1]);
        Assert.Contains(missing, errors[2]);
        Assert.Contains(huge, errors[3]);
        Assert.Contains("exceeds the limit", errors[3]);
        Assert.Contains($"{good1}: ", stdout);
        Assert.Contains($"{good2}: ", stdout);
        Assert.True(File.Exists(json), "no COCO results were written for the good images");
        using var doc = JsonDocument.Parse(File.ReadAllText(json));
        var ids = doc.RootElement.EnumerateArray().Select(r => r.GetProperty("image_id").GetString()).Distinct();
        Assert.All(ids, id => Assert.Contains(id, new[] { "phantom_test_0000.png", "phantom_test_0001.png" }));
        Assert.Contains("2 of 6 images", stdout);
    }

    [Fact]
    public void Train_leaves_out_an_image_too_thin_for_the_model_and_says_so()
    {
        using var tmp = new TestSupport.TempDir();
        string data = DataFolder(tmp, train: 1),
            config = ConfigFile(tmp),
            run = tmp["run"];
        GrayPng(Path.Combine(data, "train", "thin.png"), 100_000, 1);
        var via = ReadVia(data, "train");
        via["thin.png-1"] = Entry("thin.png");
        WriteVia(data, "train", via);

        var (code, stdout, stderr) = TestSupport.RunCli(TrainArgs(data, config, run));
        Assert.True(code == 0, stderr);
        NoTrace(stderr);
        Assert.Contains("thin.png", stdout);
        Assert.Contains("1 training image", stdout);
        using var problems = JsonDocument.Parse(File.ReadAllText(Path.Combine(run, "data_problems.json")));
        var split = problems.RootElement.GetProperty("train");
        Assert.Equal(1, split.GetProperty("images_skipped").GetInt32());
        Assert.Contains(
            split.GetProperty("problems").EnumerateArray(),
            p => p.GetProperty("image").GetString() == "thin.png"
        );
    }

    [Fact]
    public void Train_leaves_out_an_image_over_the_pixel_budget()
    {
        using var tmp = new TestSupport.TempDir();
        string data = DataFolder(tmp, train: 2),
            config = ConfigFile(tmp),
            run = tmp["run"];
        PngHeader(Path.Combine(data, "train", "huge.png"), 5000, 4000); // 20 megapixels (the old limit: 100)
        var via = ReadVia(data, "train");
        via["huge.png-1"] = Entry("huge.png");
        WriteVia(data, "train", via);

        var (code, stdout, stderr) = TestSupport.RunCli(TrainArgs(data, config, run, "--steps-per-epoch", "2"));
        Assert.True(code == 0, stderr);
        NoTrace(stderr);
        Assert.Contains("2 training images", stdout);
        Assert.Matches(@"huge\.png: 5000×4000 .*pixel", stdout);
    }

    [Fact]
    public void Weights_holding_NaN_are_refused_naming_the_tensor()
    {
        using var tmp = new TestSupport.TempDir();
        string data = DataFolder(tmp, train: 0, val: 0, test: 1);
        string weights = RandomWeights(
            tmp,
            model =>
            {
                using var noGrad = no_grad();
                var weight = model.named_parameters().Single(p => p.name == "roi_heads.box_predictor.cls_score.weight");
                weight.parameter[0, 0].fill_(double.NaN);
            }
        );
        var (code, _, stderr) = TestSupport.RunCli(
            "predict",
            "--weights",
            weights,
            "--threads",
            "1",
            "--image",
            Path.Combine(data, "test", "phantom_test_0000.png")
        );
        Assert.Equal(1, code);
        Assert.Single(Lines(stderr));
        Assert.Contains("roi_heads.box_predictor.cls_score.weight", stderr);
        Assert.Contains("NaN", stderr);

        (code, _, stderr) = TestSupport.RunCli(
            "evaluate",
            "--data",
            data,
            "--split",
            "test",
            "--weights",
            weights,
            "--threads",
            "1",
            "--json",
            tmp["m.json"]
        );
        Assert.Equal(1, code);
        Assert.Contains("roi_heads.box_predictor.cls_score.weight", stderr);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_pickle_that_calls_code_is_refused_as_such(bool zip)
    {
        using var tmp = new TestSupport.TempDir();
        string evil = tmp["evil.pth"];
        MaliciousPickle(evil, zip);
        GrayPng(tmp["a.png"], 64, 64);
        var (code, stdout, stderr) = TestSupport.RunCli(
            "predict",
            "--weights",
            evil,
            "--threads",
            "1",
            "--image",
            tmp["a.png"]
        );
        Assert.Equal(1, code);
        Assert.Single(Lines(stderr));
        Assert.Contains("this file holds code or objects that are not tensors; refused", stderr);
        Assert.DoesNotContain("old PyTorch format", stderr);
        Assert.DoesNotContain("PWNED", stdout);
    }

    [Fact]
    public void Jpeg_orientation_is_applied_as_VIA_shows_the_image()
    {
        using var tmp = new TestSupport.TempDir();
        string jpeg = tmp["rotated.jpg"];
        JpegWithOrientation(jpeg, 64, 32, orientation: 6); // stored 64 wide, 32 high; shown 32 wide, 64 high

        Assert.Equal(new ImageSize(32, 64), ImageIO.ReadSize(jpeg));
        var (rgb, size) = ImageIO.ReadRgb(jpeg);
        Assert.Equal(new ImageSize(32, 64), size);
        double Mean(int y0, int y1) =>
            Enumerable
                .Range(y0, y1 - y0)
                .SelectMany(y => Enumerable.Range(0, 32).Select(x => rgb[(y * 32 + x) * 3]))
                .Average(b => b);
        Assert.True(Mean(2, 30) > 200, "the stored left half (white) is shown on top");
        Assert.True(Mean(34, 62) < 50, "the stored right half (black) is shown below");

        // A box drawn on the shown (rotated) image lies inside it: no problem, and the region is used.
        var via = new System.Text.Json.Nodes.JsonObject
        {
            ["rotated.jpg-1"] = Entry("rotated.jpg", "benign", (4, 40, 20, 16)),
        };
        File.WriteAllText(tmp["via.json"], via.ToJsonString());
        string json = tmp["summary.json"];
        var (code, stdout, stderr) = TestSupport.RunCli(
            "inspect-data",
            "--annotations",
            tmp["via.json"],
            "--images",
            tmp.Path,
            "--json",
            json
        );
        Assert.True(code == 0, stderr);
        using var summary = JsonDocument.Parse(File.ReadAllText(json));
        Assert.True(summary.RootElement.GetProperty("problems").GetArrayLength() == 0, stdout);
    }
}
