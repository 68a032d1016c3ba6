using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace MaskRcnn.Modeling.Backbone;

/// <summary>ResNet body + FPN: torchvision's BackboneWithFPN (keys backbone.body.*, backbone.fpn.*).</summary>
public sealed class BackboneWithFPN : Module<Tensor, Tensor[]>
{
    readonly ResNetBody body;
    readonly FeaturePyramidNetwork fpn;
    public long OutChannels => fpn.OutChannels;
    public ResNetBody Body => body;

    /// <summary>Feature level names, finest first, as torchvision's OrderedDict keys.</summary>
    public static readonly string[] LevelNames = ["0", "1", "2", "3", "pool"];

    public BackboneWithFPN(string depth, NormKind norm, long outChannels = 256, bool strideInOneByOne = false)
        : base(nameof(BackboneWithFPN))
    {
        body = new ResNetBody(depth, norm, strideInOneByOne);
        fpn = new FeaturePyramidNetwork(body.OutChannels, outChannels);
        RegisterComponents();
    }

    public override Tensor[] forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var outputs = fpn.call(body.call(x));
        return outputs.Select(t => t.MoveToOuterDisposeScope()).ToArray();
    }

    /// <summary>
    /// torchvision's trainable_backbone_layers (0–5): which of layer4, layer3, layer2, layer1, conv1 (+bn1
    /// at 5) may train; the rest of the body is frozen. The FPN always trains.
    /// </summary>
    public void SetTrainableLayers(int trainableLayers)
    {
        if (trainableLayers is < 0 or > 5)
            throw new ArgumentException($"trainable backbone layers must be 0..5, got {trainableLayers}");
        var train = new[] { "layer4", "layer3", "layer2", "layer1", "conv1" }.Take(trainableLayers).ToList();
        if (trainableLayers == 5)
            train.Add("bn1");
        foreach (var (name, p) in body.named_parameters())
            p.requires_grad = train.Any(prefix => name.StartsWith(prefix));
    }
}
