using MaskRcnn.Config;
using MaskRcnn.Modeling;
using TorchSharp;
using static TorchSharp.torch;

namespace MaskRcnn.Tests.Modeling;

public class ModelStructureTests
{
    static Dictionary<string, string> TorchvisionKeys() =>
        File.ReadAllLines(Path.Combine(Fixtures.Dir, "maskrcnn_resnet50_fpn_keys.txt"))
            .Select(l => l.Split(' '))
            .ToDictionary(p => p[0], p => p[1]);

    static string Shape(Tensor t) => t.shape.Length == 0 ? "[]" : string.Join("x", t.shape);

    [Fact]
    public void State_dict_names_and_shapes_equal_torchvision_with_batchnorm()
    {
        using var model = new MaskRCNN(new MaskRcnnConfig { FrozenBatchNorm = false, TrainableBackboneLayers = 5 });
        var ours = model.state_dict().ToDictionary(kv => kv.Key, kv => Shape(kv.Value));
        var theirs = TorchvisionKeys();
        Assert.Empty(theirs.Keys.Except(ours.Keys));
        Assert.Empty(ours.Keys.Except(theirs.Keys));
        Assert.All(theirs, kv => Assert.Equal(kv.Value, ours[kv.Key]));
    }

    [Fact]
    public void Frozen_batchnorm_layout_is_torchvisions_without_num_batches_tracked()
    {
        using var model = new MaskRCNN(new MaskRcnnConfig());
        var ours = model.state_dict().Keys.ToHashSet();
        var theirs = TorchvisionKeys().Keys.Where(k => !k.EndsWith("num_batches_tracked")).ToHashSet();
        Assert.True(
            theirs.SetEquals(ours),
            string.Join(", ", theirs.Except(ours).Concat(ours.Except(theirs)).Take(10))
        );
        Assert.Equal(307, ours.Count);
    }

    [Fact]
    public void Trainable_backbone_layers_freeze_the_early_stages()
    {
        using var model = new MaskRCNN(
            new MaskRcnnConfig
            {
                TrainableBackboneLayers = 3,
                Arch = "resnet18-fpn",
                NumClasses = 3,
            }
        );
        var trainable = model.named_parameters().Where(p => p.parameter.requires_grad).Select(p => p.name).ToList();
        Assert.DoesNotContain(
            trainable,
            n => n.StartsWith("backbone.body.conv1") || n.StartsWith("backbone.body.layer1")
        );
        Assert.Contains(trainable, n => n.StartsWith("backbone.body.layer2"));
        Assert.Contains(trainable, n => n.StartsWith("backbone.fpn."));
        Assert.Contains(trainable, n => n.StartsWith("roi_heads.mask_predictor."));
    }
}
