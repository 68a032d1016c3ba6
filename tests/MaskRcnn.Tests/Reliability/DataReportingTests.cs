using System.Text.Json;
using static MaskRcnn.Tests.Reliability.ReliabilityData;

namespace MaskRcnn.Tests.Reliability;

/// <summary>
/// Data that is left out (issue 23): every skipped image and region is counted on the console and in the JSON of
/// inspect-data, train and evaluate; images are decoded in full before they are trusted; entries that point outside
/// the split folder or repeat a file name are refused.
/// </summary>
public class DataReportingTests
{
    static JsonElement Json(string path)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(path));
        return doc.RootElement.Clone();
    }

    static JsonElement InspectSplit(string data, string split, string json)
    {
        var (code, stdout, stderr) = TestSupport.RunCli(
            "inspect-data",
            "--annotations",
            ViaPath(data, split),
            "--images",
            Path.Combine(data, split),
            "--json",
            json
        );
        Assert.True(code == 0, stderr);
        var summary = Json(json);
        Assert.Contains($"problems: {summary.GetProperty("problems").GetArrayLength()}", stdout);
        return summary;
    }

    static bool Names(JsonElement problems, string image, string text) =>
        problems
            .EnumerateArray()
            .Any(p =>
                p.GetProperty("image").GetString()!.Contains(image)
                && p.GetProperty("message").GetString()!.Contains(text)
            );

    [Fact]
    public void Inspect_data_decodes_every_image_and_reports_a_truncated_one()
    {
        using var tmp = new TestSupport.TempDir();
        string data = DataFolder(tmp);
        Truncate(Path.Combine(data, "train", "phantom_train_0001.png"));
        var summary = InspectSplit(data, "train", tmp["summary.json"]);
        Assert.True(Names(summary.GetProperty("problems"), "phantom_train_0001.png", "truncated"), summary.ToString());
        Assert.Equal(1, summary.GetProperty("images_skipped").GetInt32());
    }

    [Fact]
    public void Train_start_up_check_reports_a_truncated_image_and_an_unknown_label_and_records_them()
    {
        using var tmp = new TestSupport.TempDir();
        string data = DataFolder(tmp),
            config = ConfigFile(tmp),
            run = tmp["run"];
        Truncate(Path.Combine(data, "train", "phantom_train_0001.png"));
        var via = ReadVia(data, "train");
        var key = via.Single(kv => kv.Value!["filename"]!.GetValue<string>() == "phantom_train_0002.png").Key;
        via[key]!["regions"]!.AsArray().Add(Entry("x", "cyst", (2, 2, 10, 10))["regions"]![0]!.DeepClone());
        WriteVia(data, "train", via);

        // Two steps of two images: every image of the three is loaded, the truncated one included.
        var (code, stdout, stderr) = TestSupport.RunCli(TrainArgs(data, config, run, "--steps-per-epoch", "2"));
        Assert.True(code == 0, stderr);
        Assert.Contains("2 training images", stdout);
        Assert.Contains("phantom_train_0001.png", stdout);
        Assert.Contains("cyst", stdout);
        var train = Json(Path.Combine(run, "data_problems.json")).GetProperty("train");
        Assert.Equal(3, train.GetProperty("images_listed").GetInt32());
        Assert.Equal(1, train.GetProperty("images_skipped").GetInt32());
        Assert.True(train.GetProperty("regions_skipped").GetInt32() >= 1);
        Assert.True(Names(train.GetProperty("problems"), "phantom_train_0002.png", "cyst"));
    }

    [Fact]
    public void Evaluate_says_which_images_and_regions_it_left_out_and_records_them()
    {
        using var tmp = new TestSupport.TempDir();
        string data = DataFolder(tmp, train: 0, val: 0, test: 3),
            weights = RandomWeights(tmp);
        File.WriteAllText(Path.Combine(data, "test", "phantom_test_0002.png"), "not an image");
        var via = ReadVia(data, "test");
        // Left out: the unknown label's region, and the regions of the unreadable image.
        var unreadable = via.Single(kv => kv.Value!["filename"]!.GetValue<string>() == "phantom_test_0002.png").Value!;
        int skippedRegions = 1 + unreadable["regions"]!.AsArray().Count;
        var key = via.Single(kv => kv.Value!["filename"]!.GetValue<string>() == "phantom_test_0000.png").Key;
        via[key]!["regions"]!.AsArray().Add(Entry("x", "cyst", (2, 2, 10, 10))["regions"]![0]!.DeepClone());
        WriteVia(data, "test", via);

        string json = tmp["metrics.json"];
        var (code, stdout, stderr) = TestSupport.RunCli(
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
            json
        );
        Assert.True(code == 0, stderr);
        Assert.Contains("2 of 3 images evaluated; 1 skipped: phantom_test_0002.png: ", stdout);
        Assert.Matches($@"\b{skippedRegions} regions? not evaluated", stdout);
        var report = Json(json).GetProperty("data");
        Assert.Equal(3, report.GetProperty("images_listed").GetInt32());
        Assert.Equal(2, report.GetProperty("images_used").GetInt32());
        Assert.Equal(1, report.GetProperty("images_skipped").GetInt32());
        Assert.Equal(skippedRegions, report.GetProperty("regions_skipped").GetInt32());
        Assert.True(Names(report.GetProperty("problems"), "phantom_test_0002.png", "image skipped"));
        Assert.True(Names(report.GetProperty("problems"), "phantom_test_0000.png", "cyst"));
    }

    [Fact]
    public void File_names_that_leave_the_split_folder_are_refused()
    {
        using var tmp = new TestSupport.TempDir();
        string data = DataFolder(tmp, train: 2, val: 0, test: 2);
        var via = ReadVia(data, "train");
        string absolute = Path.GetFullPath(Path.Combine(data, "test", "phantom_test_0000.png"));
        via["abs"] = Entry(absolute, "benign", (2, 2, 20, 20));
        via["up"] = Entry("../test/phantom_test_0001.png", "benign", (2, 2, 20, 20));
        WriteVia(data, "train", via);

        var summary = InspectSplit(data, "train", tmp["summary.json"]);
        Assert.True(Names(summary.GetProperty("problems"), absolute, "outside"), summary.ToString());
        Assert.True(
            Names(summary.GetProperty("problems"), "../test/phantom_test_0001.png", "outside"),
            summary.ToString()
        );
        Assert.Equal(2, summary.GetProperty("images_skipped").GetInt32());

        var (code, stdout, stderr) = TestSupport.RunCli(TrainArgs(data, ConfigFile(tmp), tmp["run"]));
        Assert.True(code == 0, stderr);
        Assert.Contains("2 training images", stdout);
    }

    [Fact]
    public void A_file_name_under_two_keys_is_reported_and_counted_once()
    {
        using var tmp = new TestSupport.TempDir();
        string data = DataFolder(tmp, train: 3, val: 0, test: 0);
        var via = ReadVia(data, "train");
        via["phantom_train_0000.png-again"] = Entry("phantom_train_0000.png", "benign", (2, 2, 20, 20));
        WriteVia(data, "train", via);

        var summary = InspectSplit(data, "train", tmp["summary.json"]);
        Assert.Equal(3, summary.GetProperty("images").GetInt32());
        Assert.True(
            Names(summary.GetProperty("problems"), "phantom_train_0000.png", "phantom_train_0000.png-again"),
            summary.ToString()
        );

        string json = tmp["no-images.json"];
        var (code, _, stderr) = TestSupport.RunCli(
            "inspect-data",
            "--annotations",
            ViaPath(data, "train"),
            "--json",
            json
        );
        Assert.True(code == 0, stderr);
        Assert.Equal(3, Json(json).GetProperty("images").GetInt32());

        (code, var stdout, stderr) = TestSupport.RunCli(TrainArgs(data, ConfigFile(tmp), tmp["run"]));
        Assert.True(code == 0, stderr);
        Assert.Contains("3 training images", stdout);
    }
}
