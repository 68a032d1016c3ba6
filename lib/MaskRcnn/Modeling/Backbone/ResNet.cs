using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace MaskRcnn.Modeling.Backbone;

/// <summary>How the backbone normalises: fixed statistics (detection default) or trainable BatchNorm.</summary>
public enum NormKind
{
    Frozen,
    Batch,
}

/// <summary>ResNet building blocks with torchvision's layout (stride on the 3×3 conv: "ResNet v1.5").</summary>
static class ResNetBlocks
{
    public static Module<Tensor, Tensor> Norm(NormKind kind, long channels) =>
        kind == NormKind.Frozen ? new FrozenBatchNorm2d(channels) : new BatchNorm2d(channels);

    public static Module<Tensor, Tensor> Conv3x3(long cin, long cout, long stride = 1) =>
        Layers.Conv3x3(cin, cout, stride, bias: false);

    public static Conv2d Conv1x1(long cin, long cout, long stride = 1) =>
        Conv2d(cin, cout, 1, stride: stride, bias: false);
}

/// <summary>
/// Two 3×3 convolutions (ResNet-18/34). Keys: conv1, bn1, conv2, bn2, downsample.{0,1}.
/// </summary>
public sealed class BasicBlock : Module<Tensor, Tensor>
{
    public const int Expansion = 1;
    readonly Module<Tensor, Tensor> conv1,
        conv2;
    readonly Module<Tensor, Tensor> bn1,
        bn2;
    readonly Sequential? downsample;
    readonly bool _padTopLeft;

    /// <param name="padTopLeft">a stride-2 conv1 pads one row above and one column left only (ML.NET's
    /// ResNet-18)</param>
    public BasicBlock(long inplanes, long planes, long stride, NormKind norm, bool downsampled, bool padTopLeft = false)
        : base(nameof(BasicBlock))
    {
        _padTopLeft = padTopLeft && stride > 1;
        conv1 = Layers.Conv3x3(inplanes, planes, stride, padding: _padTopLeft ? 0 : 1, bias: false);
        bn1 = ResNetBlocks.Norm(norm, planes);
        conv2 = ResNetBlocks.Conv3x3(planes, planes);
        bn2 = ResNetBlocks.Norm(norm, planes);
        if (downsampled)
            downsample = Sequential(
                ResNetBlocks.Conv1x1(inplanes, planes * Expansion, stride),
                ResNetBlocks.Norm(norm, planes * Expansion)
            );
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var input = _padTopLeft ? functional.pad(x, [1, 0, 1, 0]) : x;
        var y = bn1.call(conv1.call(input)).relu_();
        y = bn2.call(conv2.call(y));
        var identity = downsample is null ? x : downsample.call(x);
        return y.add_(identity).relu_().MoveToOuterDisposeScope(); // in place, as torchvision's ReLU(inplace=True)
    }
}

/// <summary>1×1 → 3×3 → 1×1 (×4) convolutions (ResNet-50/101). Keys: conv1..3, bn1..3, downsample.{0,1}.</summary>
public sealed class Bottleneck : Module<Tensor, Tensor>
{
    public const int Expansion = 4;
    readonly Conv2d conv1,
        conv3;
    readonly Module<Tensor, Tensor> conv2;
    readonly Module<Tensor, Tensor> bn1,
        bn2,
        bn3;
    readonly Sequential? downsample;

    /// <param name="strideInOneByOne">stride on the first 1×1 conv (the original ResNet / Caffe / matterport) instead
    /// of the 3×3 (torchvision, "v1.5")</param>
    public Bottleneck(
        long inplanes,
        long planes,
        long stride,
        NormKind norm,
        bool downsampled,
        bool strideInOneByOne = false
    )
        : base(nameof(Bottleneck))
    {
        conv1 = ResNetBlocks.Conv1x1(inplanes, planes, strideInOneByOne ? stride : 1);
        bn1 = ResNetBlocks.Norm(norm, planes);
        conv2 = ResNetBlocks.Conv3x3(planes, planes, strideInOneByOne ? 1 : stride);
        bn2 = ResNetBlocks.Norm(norm, planes);
        conv3 = ResNetBlocks.Conv1x1(planes, planes * Expansion);
        bn3 = ResNetBlocks.Norm(norm, planes * Expansion);
        if (downsampled)
            downsample = Sequential(
                ResNetBlocks.Conv1x1(inplanes, planes * Expansion, stride),
                ResNetBlocks.Norm(norm, planes * Expansion)
            );
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var y = bn1.call(conv1.call(x)).relu_();
        y = bn2.call(conv2.call(y)).relu_();
        y = bn3.call(conv3.call(y));
        var identity = downsample is null ? x : downsample.call(x);
        return y.add_(identity).relu_().MoveToOuterDisposeScope(); // in place, as torchvision's ReLU(inplace=True)
    }
}

/// <summary>A ResNet body's shape: block type, blocks per stage, and where stride-2 layers pad.</summary>
public sealed record ResNetLayout(bool Bottleneck, int[] Blocks, bool PadTopLeft = false);

/// <summary>
/// The ResNet body as the detection backbone uses it (torchvision's IntermediateLayerGetter over resnetNN):
/// conv1, bn1, relu, maxpool, layer1..layer4; returns the outputs of layer1..layer4 (strides 4, 8, 16, 32).
/// No avgpool/fc. Weight init as torchvision's ResNet (Kaiming normal, fan_out).
/// </summary>
public sealed class ResNetBody : Module<Tensor, Tensor[]>
{
    readonly Module<Tensor, Tensor> conv1;
    readonly Module<Tensor, Tensor> bn1;
    readonly Sequential layer1,
        layer2,
        layer3,
        layer4;

    /// <summary>Output channels of layer1..layer4.</summary>
    public long[] OutChannels { get; }
    public string Depth { get; }

    readonly bool _padTopLeft;

    /// <summary>
    /// The bodies: torchvision's four, and ML.NET's ImageNet ResNet-18 ("resnet18-mlnet", the offline pretrained
    /// start point): basic blocks 2, 2, 2, 3 and top/left-only padding where torchvision pads all round — conv1 pads
    /// 3 rows/columns before and 2 after, the max-pool and every stride-2 3×3 conv 1 before and 0 after.
    /// </summary>
    public static readonly IReadOnlyDictionary<string, ResNetLayout> Layouts = new Dictionary<string, ResNetLayout>
    {
        ["resnet18"] = new(false, [2, 2, 2, 2]),
        ["resnet34"] = new(false, [3, 4, 6, 3]),
        ["resnet50"] = new(true, [3, 4, 6, 3]),
        ["resnet101"] = new(true, [3, 4, 23, 3]),
        ["resnet18-mlnet"] = new(false, [2, 2, 2, 3], PadTopLeft: true),
    };

    public ResNetBody(string depth, NormKind norm, bool strideInOneByOne = false)
        : base(nameof(ResNetBody))
    {
        if (!Layouts.TryGetValue(depth, out var layout))
            throw new ArgumentException($"unknown ResNet '{depth}' (use {string.Join(", ", Layouts.Keys)})");
        Depth = depth;
        _padTopLeft = layout.PadTopLeft;
        int expansion = layout.Bottleneck ? Bottleneck.Expansion : BasicBlock.Expansion;
        conv1 = Layers.StemConv(3, 64, 7, stride: 2, padding: _padTopLeft ? (3, 2) : (3, 3), bias: false);
        bn1 = ResNetBlocks.Norm(norm, 64);
        long inplanes = 64;
        Sequential MakeLayer(long planes, int blocks, long stride)
        {
            var modules = new List<Module<Tensor, Tensor>>();
            for (int i = 0; i < blocks; i++)
            {
                long s = i == 0 ? stride : 1;
                bool down = i == 0 && (stride != 1 || inplanes != planes * expansion);
                modules.Add(
                    layout.Bottleneck
                        ? new Bottleneck(inplanes, planes, s, norm, down, strideInOneByOne)
                        : new BasicBlock(inplanes, planes, s, norm, down, layout.PadTopLeft)
                );
                inplanes = planes * expansion;
            }
            return Sequential(modules);
        }
        layer1 = MakeLayer(64, layout.Blocks[0], 1);
        layer2 = MakeLayer(128, layout.Blocks[1], 2);
        layer3 = MakeLayer(256, layout.Blocks[2], 2);
        layer4 = MakeLayer(512, layout.Blocks[3], 2);
        OutChannels = [64L * expansion, 128L * expansion, 256L * expansion, 512L * expansion];
        RegisterComponents();

        using var noGrad = no_grad();
        foreach (var (name, p) in named_parameters())
            if (name.EndsWith("weight") && p.dim() == 4)
                init.kaiming_normal_(p, mode: init.FanInOut.FanOut, nonlinearity: init.NonlinearityType.ReLU);
        // BatchNorm weights start at 1 and biases at 0 (their constructor already does so).
    }

    public override Tensor[] forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        x = bn1.call(conv1.call(x)).relu_();
        // After the ReLU every value is ≥ 0, so zero padding leaves the max-pool's maxima as -∞ padding would.
        x = _padTopLeft
            ? functional.max_pool2d(functional.pad(x, [1, 0, 1, 0]), 3, 2, 0)
            : functional.max_pool2d(x, 3, 2, 1);
        var c2 = layer1.call(x);
        var c3 = layer2.call(c2);
        var c4 = layer3.call(c3);
        var c5 = layer4.call(c4);
        return new[] { c2, c3, c4, c5 }.Select(t => t.MoveToOuterDisposeScope()).ToArray();
    }
}
