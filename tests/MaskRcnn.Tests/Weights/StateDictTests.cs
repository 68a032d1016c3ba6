using MaskRcnn.Config;
using MaskRcnn.Modeling;
using MaskRcnn.Weights;
using TorchSharp;
using static TorchSharp.torch;

namespace MaskRcnn.Tests.Weights;

public class StateDictTests
{
    static MaskRcnnConfig Small => TinyTraining.Config() with { MinSize = [64], MaxSize = 96 };

    [Theory]
    [InlineData("backbone.fpn.inner_blocks.2.weight", "backbone.fpn.inner_blocks.2.0.weight")]
    [InlineData("backbone.fpn.layer_blocks.0.bias", "backbone.fpn.layer_blocks.0.0.bias")]
    [InlineData("rpn.head.conv.weight", "rpn.head.conv.0.0.weight")]
    [InlineData("roi_heads.mask_head.mask_fcn1.weight", "roi_heads.mask_head.0.0.weight")]
    [InlineData("roi_heads.mask_head.mask_fcn4.bias", "roi_heads.mask_head.3.0.bias")]
    [InlineData("backbone.fpn.inner_blocks.2.0.weight", "backbone.fpn.inner_blocks.2.0.weight")]
    [InlineData("roi_heads.box_predictor.cls_score.weight", "roi_heads.box_predictor.cls_score.weight")]
    public void Old_torchvision_keys_are_migrated(string old, string current) =>
        Assert.Equal(current, StateDicts.MigrateKey(old));

    [Theory]
    [InlineData("weights.safetensors")]
    [InlineData("weights.pth")]
    public void Save_and_load_round_trip_gives_identical_predictions(string file)
    {
        using var tmp = new TestSupport.TempDir();
        using var scope = NewDisposeScope();
        manual_seed(3);
        using var a = new MaskRCNN(Small with { BoxScoreThresh = 0 });
        a.eval();
        StateDicts.Write(tmp[file], a.state_dict());
        var (b, report) = ModelLoader.FromStateDictFile(tmp[file], Small with { BoxScoreThresh = 0 });
        using var _ = b;
        Assert.True(report.IsExact);
        Assert.Equal("resnet18-fpn", b.Config.Arch);
        var image = rand(3, 70, 90);
        var da = a.Predict(image);
        var db = b.Predict(image);
        Assert.True(da.Count > 0);
        Assert.True(da.Boxes.eq(db.Boxes).all().item<bool>(), "boxes differ");
        Assert.True(da.Scores.eq(db.Scores).all().item<bool>(), "scores differ");
        Assert.True(da.MaskProbs!.eq(db.MaskProbs!).all().item<bool>(), "masks differ");
    }

    [Fact]
    public void Missing_unexpected_and_misshaped_keys_are_listed()
    {
        using var scope = NewDisposeScope();
        using var model = new MaskRCNN(Small);
        var sd = model.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.clone());
        sd.Remove("rpn.head.cls_logits.bias");
        sd["roi_heads.box_predictor.cls_score.weight"] = zeros(91, 64);
        sd["something.else"] = zeros(1);
        var e = Assert.Throws<MaskRcnnException>(() => StateDicts.Load(model, sd, sourceName: "test.pth"));
        Assert.Contains("test.pth", e.Message);
        Assert.Contains("missing (1): rpn.head.cls_logits.bias", e.Message);
        Assert.Contains("unexpected (1): something.else", e.Message);
        Assert.Contains("roi_heads.box_predictor.cls_score.weight: source [91, 64] vs model [3, 64]", e.Message);
    }

    [Fact]
    public void Non_strict_load_reports_instead_of_throwing()
    {
        using var scope = NewDisposeScope();
        using var model = new MaskRCNN(Small);
        var sd = model.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.clone());
        sd["roi_heads.box_predictor.cls_score.weight"] = zeros(91, 64);
        var report = StateDicts.Load(model, sd, strict: false, skip: k => k.Contains("box_predictor.bbox_pred"));
        Assert.Single(report.ShapeMismatches);
        Assert.Equal(
            ["roi_heads.box_predictor.bbox_pred.bias", "roi_heads.box_predictor.bbox_pred.weight"],
            report.Skipped.Order()
        );
    }

    [Fact]
    public void Unreadable_weights_file_is_a_clear_error()
    {
        using var tmp = new TestSupport.TempDir();
        File.WriteAllText(tmp["bad.pth"], "this is not a checkpoint");
        var e = Assert.Throws<MaskRcnnException>(() => StateDicts.Read(tmp["bad.pth"]));
        Assert.Contains("bad.pth", e.Message);
        Assert.Throws<MaskRcnnException>(() => StateDicts.Read(tmp["missing.pth"]));
    }

    [Fact]
    public void Architecture_is_read_from_the_keys()
    {
        foreach (var arch in MaskRcnnConfig.Archs)
        {
            using var model = new MaskRCNN(new MaskRcnnConfig { Arch = arch, NumClasses = 3 });
            Assert.Equal(arch, ModelLoader.GuessArch(model.state_dict()));
            Assert.Equal(3, ModelLoader.GuessNumClasses(model.state_dict()));
        }
    }
}
