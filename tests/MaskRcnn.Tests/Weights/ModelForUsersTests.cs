using System.Security.Cryptography;
using MaskRcnn.Config;
using MaskRcnn.Modeling;
using MaskRcnn.Weights;
using PureHDF;
using TorchSharp;
using static TorchSharp.torch;

namespace MaskRcnn.Tests.Weights;

public class ModelForUsersTests
{
    static MaskRcnnConfig Tiny(int classes = 3) =>
        TinyTraining.Config() with
        {
            NumClasses = classes,
            MinSize = [64],
            MaxSize = 96,
            ClassNames = classes == 3 ? Presets.LesionClasses : [],
        };

    [Fact]
    public void Every_preset_is_valid_and_round_trips_through_json()
    {
        foreach (var name in Presets.Names)
        {
            var p = Presets.Get(name);
            Assert.Empty(p.Problems());
            var back = MaskRcnnConfig.FromJson(p.ToJson());
            Assert.Equal(p.ToJson(), back.ToJson());
        }
        Assert.Equal("resnet101-fpn", Presets.Seed().Arch);
        Assert.Equal(0.9, Presets.Seed().BoxScoreThresh);
        Assert.Equal(3, Presets.Seed().NumClasses);
        Assert.Throws<MaskRcnnException>(() => Presets.Get("nope"));
    }

    [Theory]
    [InlineData("""{"box_nms_thresh": 1.5}""", "box_nms_thresh: 1.5 is outside [0, 1]")]
    [InlineData("""{"anchor_sizes": [[32], [64]]}""", "anchor_sizes: 2 levels")]
    [InlineData("""{"aspect_ratios": [[0.5, 1], [1], [1], [1], [1]]}""", "same number of anchors per location")]
    [InlineData("""{"num_classes": 1}""", "num_classes: 1")]
    [InlineData("""{"arch": "vgg16"}""", "arch: 'vgg16'")]
    [InlineData("""{"training": {"stages": "heads:10,tail:3"}}""", "unknown layer group 'tail'")]
    [InlineData("""{"training": {"learning_rate": -1}}""", "training.learning_rate")]
    [InlineData("""{"training": {"precision": "fp16"}}""", "training.precision: 'fp16'")]
    [InlineData("""{"rpn_nms_threshold": 0.7}""", "rpn_nms_threshold")]
    public void Invalid_configs_name_the_field(string json, string expected)
    {
        var e = Assert.Throws<MaskRcnnException>(() => MaskRcnnConfig.FromJson(json, "my.json"));
        Assert.StartsWith("my.json: ", e.Message);
        Assert.Contains(expected, e.Message);
    }

    [Theory]
    [InlineData("bf16", MaskRcnn.Runtime.ComputePrecision.BFloat16)]
    [InlineData("BFloat16", MaskRcnn.Runtime.ComputePrecision.BFloat16)]
    [InlineData("float32", MaskRcnn.Runtime.ComputePrecision.Float32)]
    public void Training_precision_takes_the_names_the_cli_takes(
        string name,
        MaskRcnn.Runtime.ComputePrecision expected
    )
    {
        var config = MaskRcnnConfig.FromJson($$$"""{"training": {"precision": "{{{name}}}"}}""");
        Assert.Equal(expected, config.Training.ComputePrecision);
    }

    [Fact]
    public void Checkpoint_round_trip_gives_identical_predictions()
    {
        using var tmp = new TestSupport.TempDir();
        using var scope = NewDisposeScope();
        manual_seed(5);
        using var a = new MaskRCNN(Tiny());
        a.eval();
        Checkpoint.Save(tmp["model.safetensors"], a, state: new TrainingState(3, 0, 120, 0.5, "val segm AP"));
        Assert.True(Checkpoint.IsCheckpoint(tmp["model.safetensors"]));
        var (b, description) = ModelLoader.Load(tmp["model.safetensors"]);
        using var _ = b;
        Assert.Contains("iteration 120", description);
        Assert.Equal(a.Config.ToJson(), b.Config.ToJson());
        var image = rand(3, 70, 90);
        using var da = a.Predict(image);
        using var db = b.Predict(image);
        Assert.True(da.Count > 0);
        Assert.True(da.Boxes.eq(db.Boxes).all().item<bool>() && da.MaskProbs!.eq(db.MaskProbs!).all().item<bool>());
        var contents = Checkpoint.Read(tmp["model.safetensors"]);
        Assert.Equal(Checkpoint.Version, contents.Version);
        Assert.Equal(120, contents.State!.Iteration);
        Assert.Equal(["background", "benign", "malignant"], contents.Config.ClassNames);
    }

    [Fact]
    public void Checkpoints_from_a_newer_version_are_refused_clearly()
    {
        using var tmp = new TestSupport.TempDir();
        using var m = new MaskRCNN(Tiny());
        var sd = m.state_dict().ToDictionary(kv => "model." + kv.Key, kv => kv.Value);
        SafetensorsFile.Write(
            tmp["future.safetensors"],
            sd,
            new Dictionary<string, string>
            {
                ["format"] = Checkpoint.Format,
                ["version"] = "99",
                ["config"] = m.Config.ToJson(),
            }
        );
        var e = Assert.Throws<MaskRcnnException>(() => Checkpoint.Read(tmp["future.safetensors"]));
        Assert.Contains("version 99", e.Message);
    }

    [Fact]
    public void Coco_class_weights_reinitialise_exactly_the_class_specific_layers()
    {
        using var tmp = new TestSupport.TempDir();
        using var coco = new MaskRCNN(Tiny(91));
        StateDicts.Write(tmp["coco.pth"], coco.state_dict());
        using var lesions = new MaskRCNN(Tiny(3));
        var report = StartPoint.LoadPretrained(lesions, tmp["coco.pth"]);
        Assert.Equal(
            [
                "roi_heads.box_predictor.bbox_pred.bias",
                "roi_heads.box_predictor.bbox_pred.weight",
                "roi_heads.box_predictor.cls_score.bias",
                "roi_heads.box_predictor.cls_score.weight",
                "roi_heads.mask_predictor.mask_fcn_logits.bias",
                "roi_heads.mask_predictor.mask_fcn_logits.weight",
            ],
            report.Reinitialized
        );
        Assert.Equal(coco.state_dict().Count - 6, report.Loaded);
        Assert.True(
            lesions
                .state_dict()["backbone.body.conv1.weight"]
                .eq(coco.state_dict()["backbone.body.conv1.weight"])
                .all()
                .item<bool>()
        );
        // Another architecture is not silently half-loaded.
        using var r50 = new MaskRCNN(Tiny(3) with { Arch = "resnet50-fpn" });
        Assert.Throws<MaskRcnnException>(() => StartPoint.LoadPretrained(r50, tmp["coco.pth"]));
    }

    [Fact]
    public void Download_checks_the_hash_and_caches()
    {
        using var tmp = new TestSupport.TempDir();
        File.WriteAllBytes(tmp["weights.pth"], Enumerable.Range(0, 3000).Select(i => (byte)i).ToArray());
        string prefix = Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(tmp["weights.pth"]))).ToLowerInvariant()[
            ..8
        ];
        var cache = Path.Combine(tmp.Path, "cache");
        var progress = new List<long>();
        string path = CocoWeights.Ensure(
            (done, _) => progress.Add(done),
            new Uri(tmp["weights.pth"]).AbsoluteUri,
            prefix,
            cache
        );
        Assert.Equal(Path.Combine(cache, CocoWeights.FileName), path);
        Assert.Equal(3000, progress[^1]);
        Assert.Equal(
            path,
            CocoWeights.Ensure(url: "http://127.0.0.1:9/never-asked", sha256Prefix: prefix, cacheDir: cache)
        ); // cached: no download

        var wrong = Path.Combine(tmp.Path, "cache2");
        var e = Assert.Throws<MaskRcnnException>(() =>
            CocoWeights.Ensure(null, new Uri(tmp["weights.pth"]).AbsoluteUri, "00000000", wrong)
        );
        Assert.Contains("does not start with 00000000", e.Message);
        Assert.False(File.Exists(Path.Combine(wrong, CocoWeights.FileName)));
        Assert.Empty(Directory.GetFiles(wrong)); // no partial file left
    }

    [Fact]
    public void Offline_download_says_where_to_put_the_file()
    {
        using var tmp = new TestSupport.TempDir();
        var e = Assert.Throws<MaskRcnnException>(() =>
            CocoWeights.Ensure(null, "http://127.0.0.1:9/" + CocoWeights.FileName, CocoWeights.Sha256Prefix, tmp.Path)
        );
        Assert.Contains("could not download", e.Message);
        Assert.Contains(Path.Combine(tmp.Path, CocoWeights.FileName), e.Message);
        Assert.Contains("--weights none", e.Message);
    }

    static H5Dataset Data(float[] values, params ulong[] dims) => new(values, fileDims: dims);

    static float[] Seq(int n, float scale = 0.01f) =>
        Enumerable.Range(0, n).Select(i => (i % 97 - 48) * scale).ToArray();

    [Fact]
    public void Matterport_h5_weights_map_onto_our_modules()
    {
        using var tmp = new TestSupport.TempDir();
        // A tiny Keras file in matterport's layout: layer group / layer group / "kernel:0" etc.
        H5Group Layer(string name, params (string Var, H5Dataset Data)[] vars)
        {
            var inner = new H5Group();
            foreach (var (v, d) in vars)
                inner[$"{v}:0"] = d;
            return new H5Group { [name] = inner };
        }
        var bnVars = (int n) =>
            new[]
            {
                ("gamma", Data(Enumerable.Repeat(2f, n).ToArray(), (ulong)n)),
                ("beta", Data(Enumerable.Repeat(0.5f, n).ToArray(), (ulong)n)),
                ("moving_mean", Data(Enumerable.Repeat(0.1f, n).ToArray(), (ulong)n)),
                ("moving_variance", Data(Enumerable.Repeat(4f, n).ToArray(), (ulong)n)),
            };
        var file = new H5File
        {
            ["conv1"] = Layer(
                "conv1",
                ("kernel", Data(Seq(7 * 7 * 3 * 64), 7, 7, 3, 64)),
                ("bias", Data(Enumerable.Repeat(0.25f, 64).ToArray(), 64))
            ),
            ["bn_conv1"] = Layer("bn_conv1", bnVars(64)),
            ["res2a_branch2a"] = Layer(
                "res2a_branch2a",
                ("kernel", Data(Seq(64 * 64), 1, 1, 64, 64)),
                ("bias", Data(new float[64], 64))
            ),
            ["bn2a_branch2a"] = Layer("bn2a_branch2a", bnVars(64)),
            ["fpn_c5p5"] = Layer(
                "fpn_c5p5",
                ("kernel", Data(Seq(2048 * 256), 1, 1, 2048, 256)),
                ("bias", Data(Seq(256), 256))
            ),
            ["mrcnn_mask_conv1"] = Layer(
                "mrcnn_mask_conv1",
                ("kernel", Data(Seq(9 * 256 * 256), 3, 3, 256, 256)),
                ("bias", Data(new float[256], 256))
            ),
            ["mrcnn_mask_bn1"] = Layer("mrcnn_mask_bn1", bnVars(256)),
            ["mrcnn_mask_deconv"] = Layer(
                "mrcnn_mask_deconv",
                ("kernel", Data(Seq(4 * 256 * 256), 2, 2, 256, 256)),
                ("bias", Data(Seq(256), 256))
            ),
            ["mrcnn_mask"] = Layer(
                "mrcnn_mask",
                ("kernel", Data(Seq(256 * 81), 1, 1, 256, 81)),
                ("bias", Data(Seq(81), 81))
            ),
            ["rpn_model"] = Layer("rpn_conv_shared", ("kernel", Data(Seq(9 * 256 * 512), 3, 3, 256, 512))),
        };
        file.Write(tmp["mask_rcnn_tiny.h5"]);

        using var scope = NewDisposeScope();
        using var model = new MaskRCNN(MatterportWeights.ConfigFor(Presets.Seed() with { Arch = "resnet50-fpn" }));
        var report = MatterportWeights.Import(model, tmp["mask_rcnn_tiny.h5"]);
        var sd = model.state_dict();

        // Kernels [h, w, in, out] → [out, in, h, w].
        var k = tensor(Seq(7 * 7 * 3 * 64), new long[] { 7, 7, 3, 64 });
        Assert.True(sd["backbone.body.conv1.weight"].allclose(k.permute(3, 2, 0, 1)));
        // conv1's bias folded into bn1's mean; Keras eps 1e-3 kept through running_var.
        Assert.Equal(0.1f - 0.25f, sd["backbone.body.bn1.running_mean"][0].item<float>(), 6);
        Assert.Equal(4f + 1e-3f - 1e-5f, sd["backbone.body.bn1.running_var"][0].item<float>(), 5);
        Assert.Equal(2f, sd["backbone.body.bn1.weight"][0].item<float>());
        // Mask conv with its BatchNorm folded: scale = 2 / √(4 + 1e-3); bias = (0 − 0.1)·scale + 0.5.
        float scale = 2f / MathF.Sqrt(4f + 1e-3f);
        var mk = tensor(Seq(9 * 256 * 256), new long[] { 3, 3, 256, 256 }).permute(3, 2, 0, 1);
        Assert.True(sd["roi_heads.mask_head.0.0.weight"].allclose(mk * scale, 1e-5, 1e-6));
        Assert.Equal(-0.1f * scale + 0.5f, sd["roi_heads.mask_head.0.0.bias"][0].item<float>(), 5);
        // Transposed conv [h, w, out, in] → [in, out, h, w].
        var dk = tensor(Seq(4 * 256 * 256), new long[] { 2, 2, 256, 256 }).permute(3, 2, 0, 1);
        Assert.True(sd["roi_heads.mask_predictor.conv5_mask.weight"].allclose(dk));
        Assert.Contains("backbone.fpn.inner_blocks.3.0.weight", report.Loaded);
        // 81 COCO classes vs 3: the class-specific mask layer stays initialised; the RPN is not used.
        Assert.DoesNotContain("roi_heads.mask_predictor.mask_fcn_logits.weight", report.Loaded);
        Assert.Contains(report.Notes, n => n.Contains("mask_fcn_logits") && n.Contains("81 classes"));
        Assert.Contains("rpn_model", report.UnusedLayers);
        Assert.Contains("rpn.head.conv.0.0.weight", report.NotInFile);
    }

    [Fact]
    public void Inspection_final_detections_equal_predict()
    {
        using var scope = NewDisposeScope();
        manual_seed(11);
        using var model = new MaskRCNN(Tiny());
        model.eval();
        var image = rand(3, 80, 100);
        using var predicted = model.Predict(image);
        using var inspected = Inspector.Inspect(model, image, layers: ["backbone.body.layer1", "roi_heads.mask_head"]);
        Assert.True(predicted.Count > 0);
        Assert.True(inspected.Detections.Boxes.eq(predicted.Boxes).all().item<bool>());
        Assert.True(inspected.Detections.Scores.eq(predicted.Scores).all().item<bool>());
        Assert.True(inspected.Detections.Masks!.eq(predicted.Masks!).all().item<bool>());
        Assert.Equal(5, inspected.Features.Count);
        Assert.Equal(inspected.Anchors.shape[0], inspected.Objectness.shape[0]);
        Assert.True(inspected.ProposalsBeforeNms.shape[0] >= inspected.Proposals.shape[0]);
        Assert.Equal(new long[] { inspected.Proposals.shape[0], 3 }, inspected.ClassProbabilities.shape);
        Assert.Equal(predicted.Count, (int)inspected.MaskLogits.shape[0]);
        Assert.Contains("backbone.body.layer1", inspected.Activations.Keys);
        Assert.Throws<ArgumentException>(() => Inspector.Inspect(model, image, layers: ["no.such.layer"]));
    }
}
