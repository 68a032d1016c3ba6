using System.Text.Json.Nodes;
using MaskRcnn.Config;
using MaskRcnn.Data;
using MaskRcnn.Weights;
using static MaskRcnn.Tests.Reliability.ReliabilityData;

namespace MaskRcnn.Tests.Reliability;

/// <summary>
/// Every input bounded, every error one line (issue 28): configuration values within bounds, null sections named;
/// malformed weights, duplicate keys and duplicate class names each one line naming the file and what is wrong; names
/// from data files printed with their control characters escaped.
/// </summary>
public class ErrorLineTests
{
    [Theory]
    [InlineData("""{"training": null}""", "training: null")]
    [InlineData("""{"min_size": null}""", "min_size: null")]
    [InlineData("""{"class_names": null}""", "class_names: null")]
    [InlineData("""{"training": {"schedule": null}}""", "training.schedule: null")]
    [InlineData("""{"training": {"log_every": 0}}""", "training.log_every")]
    [InlineData("""{"training": {"images_per_batch": 100000}}""", "training.images_per_batch")]
    [InlineData("""{"training": {"epochs": 2147483647}}""", "training.epochs")]
    [InlineData("""{"training": {"stages": "heads:2147483647"}}""", "training.stages")]
    [InlineData("""{"training": {"stages": "heads:60000,all:60000"}}""", "training.stages")]
    [InlineData("""{"training": {"learning_rate": 1e308}}""", "training.learning_rate")]
    [InlineData("""{"training": {"stages": "all:2@1e308"}}""", "training.stages")]
    [InlineData("""{"training": {"weight_decay": 1e308}}""", "training.weight_decay")]
    [InlineData("""{"training": {"clinical_score_threshold": 2}}""", "training.clinical_score_threshold")]
    [InlineData("""{"image_std": [1e-320, 0.2, 0.2]}""", "image_std")]
    [InlineData("""{"mask_dilation": 0}""", "mask_dilation")]
    [InlineData("""{"mask_dilation": 100000}""", "mask_dilation")]
    [InlineData("""{"box_detections_per_img": 100000000}""", "box_detections_per_img")]
    [InlineData("""{"fpn_out_channels": 1000000}""", "fpn_out_channels")]
    [InlineData("""{"num_classes": 2147483647}""", "num_classes")]
    [InlineData("""{"anchor_sizes": [[32], null, [128], [256], [512]]}""", "anchor_sizes")]
    [InlineData("""{"num_classes": 3, "class_names": ["background", "benign", "Benign"]}""", "class_names")]
    [InlineData("""{"training": {"seed": 1, "seed": 2}}""", "'$.training.seed' is given twice")]
    public void A_configuration_out_of_bounds_is_refused_naming_the_field(string json, string field)
    {
        var error = Assert.Throws<MaskRcnnException>(() => MaskRcnnConfig.FromJson(json, "bad.json"));
        Assert.StartsWith("bad.json", error.Message);
        Assert.Contains(field, error.Message);
        Assert.DoesNotContain("\n", error.Message);
    }

    [Fact]
    public void Every_preset_is_within_the_bounds()
    {
        foreach (var name in Presets.Names)
            Presets.Get(name).Validate(name);
    }

    [Fact]
    public void Malformed_safetensors_are_one_line_naming_the_file_and_the_tensor()
    {
        using var tmp = new TestSupport.TempDir();
        string good = RandomWeights(tmp);
        byte[] bytes = File.ReadAllBytes(good);
        long headerLength = BitConverter.ToInt64(bytes, 0);
        string header = System.Text.Encoding.UTF8.GetString(bytes, 8, (int)headerLength);
        string image = tmp["x.png"];
        GrayPng(image, 64, 64);

        // The data's offsets count from its start, so a header of another length keeps them meaning the same bytes.
        string Edited(string name, string newHeader)
        {
            string path = tmp[name];
            var head = System.Text.Encoding.UTF8.GetBytes(newHeader);
            File.WriteAllBytes(
                path,
                [.. BitConverter.GetBytes((long)head.Length), .. head, .. bytes[(8 + (int)headerLength)..]]
            );
            return path;
        }
        var node = JsonNode.Parse(header)!.AsObject();
        string key = node.First(kv => kv.Key.StartsWith("model.")).Key;
        var offsets = node[key]!["data_offsets"]!.AsArray();
        var negative = node.DeepClone().AsObject();
        negative[key]!["data_offsets"] = new JsonArray(-8, offsets[1]!.GetValue<long>());
        var beyond = node.DeepClone().AsObject();
        beyond[key]!["data_offsets"] = new JsonArray(0, long.MaxValue);
        var shape = node.DeepClone().AsObject();
        shape[key]!["shape"] = new JsonArray(-1, 4);
        foreach (
            var (name, text, expected) in new[]
            {
                ("negative.safetensors", negative.ToJsonString(), key),
                ("beyond.safetensors", beyond.ToJsonString(), key),
                ("shape.safetensors", shape.ToJsonString(), key),
                ("notjson.safetensors", "{\"" + new string('x', 10), "JSON"),
            }
        )
        {
            string path = Edited(name, text);
            AssertOneError(TestSupport.RunCli("predict", "--weights", path, "--image", image), path, expected);
            var error = Assert.Throws<MaskRcnnException>(() => SafetensorsFile.Read(path));
            Assert.Contains(path, error.Message);
        }
    }

    [Fact]
    public void Duplicate_keys_and_duplicate_class_names_are_one_line_naming_them()
    {
        using var tmp = new TestSupport.TempDir();
        string data = DataFolder(tmp);
        string via = ViaPath(data, "train");
        string text = File.ReadAllText(via);
        int brace = text.IndexOf('{', 1); // the first entry's object
        string duplicated = text[..(brace + 1)] + "\"filename\":\"twice.png\"," + text[(brace + 1)..];
        File.WriteAllText(via, duplicated);
        AssertOneError(TestSupport.RunCli("inspect-data", "--annotations", via), via, "filename", "twice");
        var error = Assert.Throws<MaskRcnn.Data.Via.ViaFormatException>(() => MaskRcnn.Data.Via.ViaReader.Read(via));
        Assert.Contains("line 1", error.Message);

        string test = ViaPath(data, "test");
        AssertOneError(
            TestSupport.RunCli("inspect-data", "--annotations", test, "--classes", "benign,Benign"),
            "benign",
            "twice"
        );
        AssertOneError(
            TestSupport.RunCli("export-coco", "--data", data, "--out", tmp["gt.json"], "--classes", "benign,benign"),
            "benign"
        );
    }

    [Fact]
    public void An_ambiguous_label_attribute_is_named_with_label_key_which_train_and_evaluate_take()
    {
        using var tmp = new TestSupport.TempDir();
        string data = DataFolder(tmp);
        foreach (var split in new[] { "train", "test" })
        {
            var via = ReadVia(data, split);
            foreach (var (_, entry) in via)
            foreach (var region in entry!["regions"]!.AsArray())
                region!["region_attributes"]!["second_opinion"] = "malignant";
            WriteVia(data, split, via);
        }
        var result = TestSupport.RunCli(TrainArgs(data, ConfigFile(tmp), tmp["run"]));
        AssertOneError(result, "--label-key", "class", "second_opinion");
        var (code, _, err) = TestSupport.RunCli(TrainArgs(data, ConfigFile(tmp), tmp["run"], "--label-key", "class"));
        Assert.True(code == 0, err);
        (code, _, err) = TestSupport.RunCli(
            "export-coco",
            "--data",
            data,
            "--out",
            tmp["gt.json"],
            "--label-key",
            "second_opinion"
        );
        Assert.True(code == 0, err);
    }

    [Fact]
    public void Control_characters_in_names_are_escaped_when_printed()
    {
        using var tmp = new TestSupport.TempDir();
        string data = DataFolder(tmp, train: 2, test: 0);
        var via = ReadVia(data, "train");
        via["forged"] = Entry(
            "\u001b[31mred\u001b[0m.png\nerror: forged",
            "\u001b]0;title\u0007benign\r\nerror: x",
            (2, 2, 9, 9)
        );
        WriteVia(data, "train", via);
        var (code, stdout, stderr) = TestSupport.RunCli(
            "inspect-data",
            "--annotations",
            ViaPath(data, "train"),
            "--images",
            Path.Combine(data, "train")
        );
        Assert.True(code == 0, stderr);
        string all = stdout + stderr;
        Assert.DoesNotContain('\u001b', all);
        Assert.DoesNotContain('\u0007', all);
        Assert.DoesNotContain('\r', all);
        Assert.DoesNotContain(Lines(all), line => line.StartsWith("error:"));
        Assert.Contains("\\e[31mred", stdout);

        var error = TestSupport.RunCli("inspect-data", "--annotations", tmp["\u001b[2Jmissing\n.json"]);
        AssertOneError(error, "\\e[2Jmissing\\n.json");
    }
}
