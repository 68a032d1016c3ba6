using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace MaskRcnn.Modeling.Backbone;

/// <summary>
/// Feature Pyramid Network (Lin et al.) as torchvision builds it: a 1×1 lateral conv per input level
/// (inner_blocks.i.0), top-down nearest-neighbour upsampling and addition, a 3×3 output conv per level
/// (layer_blocks.i.0), and an extra level "pool" = max_pool(kernel 1, stride 2) of the coarsest output
/// (LastLevelMaxPool). Returns the levels finest first: '0', '1', '2', '3', 'pool'.
/// </summary>
public sealed class FeaturePyramidNetwork : Module<Tensor[], Tensor[]>
{
    readonly ModuleList<Sequential> inner_blocks = new();
    readonly ModuleList<Sequential> layer_blocks = new();
    public long OutChannels { get; }

    public FeaturePyramidNetwork(IReadOnlyList<long> inChannels, long outChannels)
        : base(nameof(FeaturePyramidNetwork))
    {
        OutChannels = outChannels;
        foreach (var cin in inChannels)
        {
            if (cin == 0)
                throw new ArgumentException("in_channels=0 is not supported");
            inner_blocks.Add(Sequential(Conv2d(cin, outChannels, 1)));
            layer_blocks.Add(Sequential(Layers.Conv3x3(outChannels, outChannels)));
        }
        RegisterComponents();
        using var noGrad = no_grad();
        foreach (var (name, p) in named_parameters())
        {
            if (name.EndsWith("weight"))
                init.kaiming_uniform_(p, a: 1);
            else
                init.zeros_(p);
        }
    }

    public override Tensor[] forward(Tensor[] x)
    {
        using var scope = NewDisposeScope();
        int n = x.Length;
        var results = new Tensor[n + 1];
        var lastInner = inner_blocks[n - 1].call(x[n - 1]);
        results[n - 1] = layer_blocks[n - 1].call(lastInner);
        for (int i = n - 2; i >= 0; i--)
        {
            var lateral = inner_blocks[i].call(x[i]);
            var topDown = functional.interpolate(
                lastInner,
                size: [lateral.shape[2], lateral.shape[3]],
                mode: InterpolationMode.Nearest
            );
            lastInner = lateral + topDown;
            results[i] = layer_blocks[i].call(lastInner);
        }
        results[n] = functional.max_pool2d(results[n - 1], 1, 2, 0); // LastLevelMaxPool → 'pool'
        return results.Select(t => t.MoveToOuterDisposeScope()).ToArray();
    }
}
