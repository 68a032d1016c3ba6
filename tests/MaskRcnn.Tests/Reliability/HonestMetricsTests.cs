using System.Text.Json;
using System.Text.Json.Nodes;
using MaskRcnn.Data;
using MaskRcnn.Data.Coco;
using MaskRcnn.Evaluation;
using MaskRcnn.Modeling;
using MaskRcnn.Tests.Training;
using MaskRcnn.Training;
using MaskRcnn.Weights;
using static MaskRcnn.Tests.Reliability.ReliabilityData;
using static TorchSharp.torch;

namespace MaskRcnn.Tests.Reliability;

/// <summary>
/// Never report what was not measured (issue 28): metrics that could not be computed are undefined (null, printed
/// "undefined", a failing exit code), never a perfect score; runs that learned nothing fail; results that cannot be
/// scored are counted; weights of another dtype and training states out of range are refused.
/// </summary>
[Collection(nameof(SequentialTraining))]
public class HonestMetricsTests
{
    static JsonElement Json(string path)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(path));
        return doc.RootElement.Clone();
    }

    [Fact]
    public void Clinical_metrics_without_lesions_or_images_are_undefined_not_perfect()
    {
        var none = ClinicalMetrics.Compute([], [], [], ["benign"], 0.9);
        Assert.Null(none.Sensitivity);
        Assert.Null(none.FpPerImage);
        Assert.Null(none.Dice);
        Assert.Null(none.MeanIou);
        Assert.Null(none.ImageAccuracy);

        var normalOnly = ClinicalMetrics.Compute([], [], [1, 2], ["benign"], 0.9);
        Assert.Null(normalOnly.Sensitivity); // no lesion: nothing to find
        Assert.Null(normalOnly.Dice);
        Assert.Equal(0.0, normalOnly.FpPerImage);
        Assert.Equal(1.0, normalOnly.ImageAccuracy);

        var report = DatasetEvaluation.Report([], [], [1], ["benign"], 0.9);
        Assert.False(report.Evaluated);
        var json = JsonNode.Parse(JsonSerializer.Serialize(report))!;
        Assert.Null(json["sensitivity"]);
        Assert.Null(json["dice"]);
        Assert.Null(json["bbox"]!["AP"]); // pycocotools' −1: undefined
        Assert.Null(json["per_class"]!["benign"]!["bbox_AP50"]);
        Assert.Equal("undefined", Undefined.Format(report.Bbox.AP));
        Assert.Equal("undefined", Undefined.Format(report.Sensitivity));
    }

    [Fact]
    public void Evaluate_with_a_model_of_other_classes_reports_undefined_metrics_and_fails()
    {
        using var tmp = new TestSupport.TempDir();
        string data = DataFolder(tmp);
        string weights = tmp["cats.safetensors"];
        manual_seed(5);
        using (var model = new MaskRCNN(SmallConfig() with { ClassNames = ["background", "cat", "dog"] }))
            Checkpoint.Save(weights, model);
        string json = tmp["metrics.json"];
        var (code, stdout, stderr) = TestSupport.RunCli(
            "evaluate",
            "--data",
            data,
            "--weights",
            weights,
            "--json",
            json,
            "--threads",
            "1"
        );
        AssertOneError((code, stdout, stderr), "nothing could be evaluated", "cat, dog");
        Assert.Contains("sensitivity undefined", stdout);
        Assert.Contains("image accuracy undefined", stdout);
        Assert.DoesNotContain("1.000", stdout);
        var metrics = Json(json);
        Assert.Equal(JsonValueKind.Null, metrics.GetProperty("sensitivity").ValueKind);
        Assert.Equal(JsonValueKind.Null, metrics.GetProperty("dice").ValueKind);
        Assert.False(metrics.GetProperty("evaluated").GetBoolean());
    }

    [Fact]
    public void Train_with_no_usable_region_or_mismatched_classes_is_refused_before_training()
    {
        using var tmp = new TestSupport.TempDir();
        string data = DataFolder(tmp),
            config = ConfigFile(tmp),
            run = tmp["run"];
        var via = ReadVia(data, "train");
        foreach (var (_, entry) in via)
        foreach (var region in entry!["regions"]!.AsArray())
            region!["region_attributes"]!["class"] = "cyst";
        WriteVia(data, "train", via);
        var result = TestSupport.RunCli(TrainArgs(data, config, run));
        AssertOneError(result, "no usable region");
        Assert.DoesNotContain("epoch 1", result.Out);
        Assert.False(Directory.Exists(run));

        // {} builds torchvision's 91-class model: for 2-class data it is refused at once, naming the file.
        string empty = tmp["empty.json"];
        File.WriteAllText(empty, "{}");
        AssertOneError(TestSupport.RunCli(TrainArgs(DataFolder(tmp), empty, run)), empty, "num_classes");
        Assert.False(Directory.Exists(run));
    }

    [Fact]
    public void A_run_whose_every_step_was_non_finite_fails_and_writes_no_model()
    {
        using var tmp = new TestSupport.TempDir();
        DataFolder(tmp, train: 2, val: 0, test: 0);
        var train = DatasetLoader.LoadSplit(tmp["data"], "train");
        var config = SmallConfig() with { Training = SmallConfig().Training with { StepsPerEpoch = 2 } };
        manual_seed(1);
        using var model = new MaskRCNN(config);
        var trainer = new Trainer(model, train, null, tmp["run"])
        {
            LossTransform = losses => losses.ToDictionary(kv => kv.Key, kv => kv.Value * float.NaN),
        };
        var error = Assert.Throws<TrainingDivergedException>(() => trainer.Run());
        Assert.Contains("non-finite", error.Message);
        Assert.False(File.Exists(trainer.FinalModel));
        // Nor does a resume turn its checkpoint into a final model.
        Assert.Throws<TrainingDivergedException>(() => new Trainer(model, train, null, tmp["run"]).Run(resume: true));
        Assert.False(File.Exists(trainer.FinalModel));
    }

    [Fact]
    public void A_checkpoint_whose_training_state_is_out_of_range_or_not_json_is_refused()
    {
        using var tmp = new TestSupport.TempDir();
        manual_seed(5);
        using var model = new MaskRCNN(SmallConfig());
        string negative = tmp["negative.safetensors"];
        Checkpoint.Save(negative, model, state: new TrainingState(-4, 0, 3, null, null));
        var error = Assert.Throws<MaskRcnnException>(() => Checkpoint.Read(negative));
        Assert.Contains(negative, error.Message);
        Assert.Contains("epoch -4", error.Message);

        string garbled = tmp["garbled.safetensors"];
        var tensors = model.state_dict().ToDictionary(kv => "model." + kv.Key, kv => kv.Value);
        SafetensorsFile.Write(
            garbled,
            tensors,
            new Dictionary<string, string>
            {
                ["format"] = Checkpoint.Format,
                ["version"] = "1",
                ["config"] = model.Config.ToJson(),
                ["training_state"] = "epoch four",
            }
        );
        error = Assert.Throws<MaskRcnnException>(() => Checkpoint.Read(garbled));
        Assert.Contains(garbled, error.Message);
        Assert.Contains("training_state", error.Message);
        Assert.DoesNotContain("\n", error.Message);

        // Through the CLI: one line, the run left as it was.
        string data = DataFolder(tmp),
            run = tmp["run"];
        Directory.CreateDirectory(run);
        File.Copy(negative, Path.Combine(run, "checkpoint_last.safetensors"));
        AssertOneError(TestSupport.RunCli(TrainArgs(data, ConfigFile(tmp), run, "--resume")), "epoch -4");
    }

    [Fact]
    public void Weights_of_another_dtype_are_refused_naming_the_tensor()
    {
        using var tmp = new TestSupport.TempDir();
        string weights = RandomWeights(tmp);
        var c = Checkpoint.Read(weights);
        string key = "roi_heads.box_predictor.cls_score.weight";
        var tensors = c.Model.ToDictionary(kv => "model." + kv.Key, kv => kv.Value);
        var relabelled = empty(c.Model[key].shape, dtype: ScalarType.Int32); // the same bytes, read as int32: an
        relabelled.bytes = c.Model[key].bytes; // edited header
        tensors["model." + key] = relabelled;
        string edited = tmp["edited.safetensors"];
        SafetensorsFile.Write(
            edited,
            tensors,
            new Dictionary<string, string>
            {
                ["format"] = Checkpoint.Format,
                ["version"] = "1",
                ["config"] = c.Config.ToJson(),
            }
        );
        string image = tmp["x.png"];
        GrayPng(image, 64, 64);
        AssertOneError(TestSupport.RunCli("predict", "--weights", edited, "--image", image), key, "Int32");
    }

    [Fact]
    public void Results_that_cannot_be_scored_are_counted_with_their_reasons()
    {
        using var tmp = new TestSupport.TempDir();
        string gt = tmp["gt.json"],
            dt = tmp["dt.json"];
        var mask = new JsonObject { ["size"] = new JsonArray(20, 20), ["counts"] = new JsonArray(100, 50, 250) };
        File.WriteAllText(
            gt,
            new JsonObject
            {
                ["images"] = new JsonArray(
                    new JsonObject
                    {
                        ["id"] = 1,
                        ["file_name"] = "a.png",
                        ["width"] = 20,
                        ["height"] = 20,
                    },
                    new JsonObject
                    {
                        ["id"] = 2,
                        ["file_name"] = "b.png",
                        ["width"] = 0,
                        ["height"] = 20,
                    }
                ),
                ["annotations"] = new JsonArray(
                    new JsonObject
                    {
                        ["id"] = 1,
                        ["image_id"] = 1,
                        ["category_id"] = 1,
                        ["segmentation"] = mask.DeepClone(),
                        ["bbox"] = new JsonArray(5, 0, 3, 20),
                        ["area"] = 50,
                    },
                    new JsonObject
                    {
                        ["id"] = 2,
                        ["image_id"] = 2,
                        ["category_id"] = 1,
                        ["bbox"] = new JsonArray(1, 1, 2, 2),
                    }
                ),
                ["categories"] = new JsonArray(new JsonObject { ["id"] = 1, ["name"] = "benign" }),
            }.ToJsonString()
        );
        JsonObject Result(JsonNode? image, JsonArray bbox, JsonNode? segmentation) =>
            new()
            {
                ["image_id"] = image,
                ["category_id"] = 1,
                ["bbox"] = bbox,
                ["score"] = 0.95,
                ["segmentation"] = segmentation,
            };
        JsonNode Rle(int h, int w) =>
            JsonNode.Parse(JsonSerializer.Serialize(CocoRle.From(new RleMask(h, w, [100, 50, (long)h * w - 150]))))!;
        File.WriteAllText(
            dt,
            new JsonArray(
                Result(1, [5, 0, 3, 20], Rle(20, 20)), // scored
                Result(1, [5, 0, 3, 20], null), // no segmentation: its box, as pycocotools
                Result(1, [5, 0], Rle(20, 20)), // a short bbox
                Result(99, [5, 0, 3, 20], Rle(20, 20)), // an unknown image id
                Result(1, [5, 0, 3, 20], Rle(30, 30)), // a mask of another size
                Result("c.png", [5, 0, 3, 20], Rle(20, 20)) // an unknown file name
            ).ToJsonString()
        );
        var truth = CocoFiles.ReadGroundTruth(gt);
        Assert.Contains(truth.Problems, p => p.Message.Contains("width 0"));
        var results = CocoFiles.ReadResultsFile(dt, truth);
        Assert.Equal(6, results.Listed);
        Assert.Equal(2, results.Objects.Count);
        Assert.Contains(results.Problems, p => p.Image == "result 2" && p.Message.Contains("bbox"));
        Assert.Contains(results.Problems, p => p.Image == "result 3" && p.Message.Contains("99"));
        Assert.Contains(results.Problems, p => p.Image == "result 4" && p.Message.Contains("30×30"));
        Assert.Contains(results.Problems, p => p.Image == "result 5" && p.Message.Contains("c.png"));
        Assert.Contains(results.Problems, p => p.Message.Contains("without \"segmentation\""));

        string json = tmp["m.json"];
        var (code, stdout, stderr) = TestSupport.RunCli("evaluate", "--gt", gt, "--dt", dt, "--json", json);
        Assert.True(code == 0, stderr);
        Assert.Contains("2 of 6 results scored", stdout);
        var inputs = Json(json).GetProperty("inputs");
        Assert.Equal(2, inputs.GetProperty("results_scored").GetInt32());
        Assert.NotEqual(JsonValueKind.Null, Json(json).GetProperty("segm").ValueKind); // not nulled by one row
    }

    [Fact]
    public void Predict_refuses_two_images_of_one_file_name_in_one_results_file()
    {
        using var tmp = new TestSupport.TempDir();
        Directory.CreateDirectory(tmp["a"]);
        Directory.CreateDirectory(tmp["b"]);
        GrayPng(tmp["a/x.png"], 64, 64);
        GrayPng(tmp["b/x.png"], 64, 64);
        string weights = RandomWeights(tmp);
        AssertOneError(
            TestSupport.RunCli(
                "predict",
                "--weights",
                weights,
                "--image",
                tmp["a/x.png"],
                tmp["b/x.png"],
                "--coco-json",
                tmp["r.json"]
            ),
            "x.png"
        );
        Assert.False(File.Exists(tmp["r.json"]));
    }
}
