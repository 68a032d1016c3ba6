using MaskRcnn.Runtime;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace MaskRcnn.Modeling.Kernels;

/// <summary>
/// nn.Linear (keys weight [out, in], bias; its initialisation) computed in full precision whatever number format the
/// model runs in: under bfloat16 autocast the input is converted to float32 and autocast is off for the product
/// (<see cref="Layers.OutputLinear"/> makes it; as Python's <c>torch.autocast(..., enabled=False)</c>).
/// </summary>
public sealed class FullPrecisionLinear : Module<Tensor, Tensor>
{
    public Parameter weight;
    public Parameter bias;

    public FullPrecisionLinear(long inFeatures, long outFeatures)
        : base("Linear")
    {
        using (var init = Linear(inFeatures, outFeatures)) // nn.Linear's own initialisation
        using (no_grad())
        {
            weight = new Parameter(init.weight!.detach().clone());
            bias = new Parameter(init.bias!.detach().clone());
        }
        RegisterComponents();
    }

    public long InFeatures => weight.shape[1];

    /// <param name="x">[N, inFeatures] in any floating type</param>
    /// <returns>[N, outFeatures] in full precision (float32 for bfloat16 input)</returns>
    public override Tensor forward(Tensor x)
    {
        using var fullPrecision = Autocast.Suspend(x.device_type);
        using var input = x.FullPrecision();
        return functional.linear(input, weight, bias);
    }
}

/// <summary>
/// nn.Conv2d with a 1×1 kernel (keys weight, bias; its initialisation) whose result leaves it in full precision: it
/// computes in the model's number format (bfloat16 under autocast, over whole feature maps) and converts its output
/// to float32 (<see cref="Layers.OutputConv1x1"/> makes it).
/// </summary>
public sealed class FullPrecisionOutputConv2d : Module<Tensor, Tensor>
{
    public Parameter weight;
    public Parameter bias;

    public FullPrecisionOutputConv2d(long inChannels, long outChannels)
        : base("Conv2d")
    {
        using (var init = Conv2d(inChannels, outChannels, 1)) // nn.Conv2d's own initialisation
        using (no_grad())
        {
            weight = new Parameter(init.weight!.detach().clone());
            bias = new Parameter(init.bias!.detach().clone());
        }
        RegisterComponents();
    }

    /// <returns>[N, outChannels, H, W] in full precision (float32 where the convolution ran in bfloat16)</returns>
    public override Tensor forward(Tensor x)
    {
        using var output = functional.conv2d(x, weight, bias);
        return output.FullPrecision();
    }
}

/// <summary>
/// nn.Linear (keys weight [out, in], bias; its initialisation) whose result leaves it in full precision: it computes
/// in the model's number format and converts its output to float32 (<see cref="Layers.FeatureLinear"/> makes it).
/// </summary>
public sealed class FullPrecisionOutputLinear : Module<Tensor, Tensor>
{
    public Parameter weight;
    public Parameter bias;

    public FullPrecisionOutputLinear(long inFeatures, long outFeatures)
        : base("Linear")
    {
        using (var init = Linear(inFeatures, outFeatures)) // nn.Linear's own initialisation
        using (no_grad())
        {
            weight = new Parameter(init.weight!.detach().clone());
            bias = new Parameter(init.bias!.detach().clone());
        }
        RegisterComponents();
    }

    public long InFeatures => weight.shape[1];

    /// <returns>[N, outFeatures] in full precision (float32 where the product ran in bfloat16)</returns>
    public override Tensor forward(Tensor x)
    {
        using var output = functional.linear(x, weight, bias);
        return output.FullPrecision();
    }
}
