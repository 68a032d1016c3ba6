using MaskRcnn.Runtime;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace MaskRcnn.Modeling.Kernels;

/// <summary>
/// nn.Linear on flattened input (<c>x.flatten(1)</c>), with nn.Linear's parameters (weight [out, in], bias),
/// initialisation and state-dict keys (<see cref="Layers.Linear"/> makes it). Where oneMKL's SGEMM does not run the
/// kernels made for this CPU (<see cref="MklDispatch.FeatureKernels"/> false, e.g. MASKRCNN_MKL_DISPATCH=vendor on an
/// AMD CPU), [N, C, H, W] channels-last CPU input (what the RoI poolers give) runs as a H×W convolution with the
/// weight viewed as [out, C, H, W]: the same sums, done by oneDNN, faster than oneMKL's generic SGEMM. With the
/// CPU's own SGEMM kernels the plain product is the faster of the two (PERFORMANCE.md, "What each change gained").
/// </summary>
public sealed class FlattenedLinear : Module<Tensor, Tensor>
{
    public Parameter weight;
    public Parameter bias;

    public FlattenedLinear(long inFeatures, long outFeatures)
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

    /// <summary>
    /// Whether [N, C, H, W] input is best given channels-last (run as a convolution) or contiguous (a plain
    /// product whose flatten is free). Fixed for the process once <see cref="MklDispatch"/> has run.
    /// </summary>
    public static bool PrefersChannelsLastInput => !MklDispatch.FeatureKernels;

    public override Tensor forward(Tensor x)
    {
        if (
            PrefersChannelsLastInput
            && x.dim() == 4
            && x.IsChannelsLast()
            && x.device_type == DeviceType.CPU
            && x.shape[1] * x.shape[2] * x.shape[3] == InFeatures
        )
        {
            using var kernel = weight.view(weight.shape[0], x.shape[1], x.shape[2], x.shape[3]);
            using var output = functional.conv2d(x, kernel, bias);
            return output.flatten(1);
        }
        return functional.linear(x.flatten(1), weight, bias);
    }
}
