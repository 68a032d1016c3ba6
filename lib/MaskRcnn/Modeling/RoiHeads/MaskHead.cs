using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace MaskRcnn.Modeling.RoiHeads;

/// <summary>
/// The mask branch's four 3×3 conv + ReLU layers on 14×14 RoI features (torchvision's MaskRCNNHeads; keys
/// mask_head.{i}.0, older checkpoints mask_fcn{i+1}). Kaiming-normal (fan_out) weights, zero biases.
/// </summary>
public sealed class MaskRCNNHeads : Sequential
{
    public MaskRCNNHeads(long inChannels, IReadOnlyList<long> layers, long dilation = 1)
        : base(Build(inChannels, layers, dilation))
    {
        using var noGrad = no_grad();
        foreach (var (name, p) in named_parameters())
        {
            if (name.EndsWith("weight"))
                init.kaiming_normal_(p, mode: init.FanInOut.FanOut, nonlinearity: init.NonlinearityType.ReLU);
            else
                init.zeros_(p);
        }
    }

    static (string, Module<Tensor, Tensor>)[] Build(long inChannels, IReadOnlyList<long> layers, long dilation)
    {
        var modules = new (string, Module<Tensor, Tensor>)[layers.Count];
        long next = inChannels;
        for (int i = 0; i < layers.Count; i++)
        {
            modules[i] = (
                i.ToString(),
                Sequential(Layers.Conv3x3(next, layers[i], padding: dilation, dilation: dilation), ReLU())
            );
            next = layers[i];
        }
        return modules;
    }
}

/// <summary>
/// Upsamples 14×14 mask features to 28×28 (conv5_mask: 2×2 transposed conv, stride 2, + ReLU) and predicts
/// one mask logit map per class (mask_fcn_logits: 1×1 conv).
/// </summary>
public sealed class MaskRCNNPredictor : Module<Tensor, Tensor>
{
    readonly ConvTranspose2d conv5_mask;
    readonly Module<Tensor, Tensor> mask_fcn_logits;

    public MaskRCNNPredictor(long inChannels, long dimReduced, long numClasses)
        : base(nameof(MaskRCNNPredictor))
    {
        conv5_mask = ConvTranspose2d(inChannels, dimReduced, 2, stride: 2);
        mask_fcn_logits = Layers.OutputConv1x1(dimReduced, numClasses);
        RegisterComponents();
        using var noGrad = no_grad();
        foreach (var (name, p) in named_parameters())
        {
            if (name.EndsWith("weight"))
                init.kaiming_normal_(p, mode: init.FanInOut.FanOut, nonlinearity: init.NonlinearityType.ReLU);
            else
                init.zeros_(p);
        }
    }

    /// <returns>[R, K, 28, 28] mask logits</returns>
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        return mask_fcn_logits.call(functional.relu(conv5_mask.call(x))).MoveToOuterDisposeScope();
    }
}
