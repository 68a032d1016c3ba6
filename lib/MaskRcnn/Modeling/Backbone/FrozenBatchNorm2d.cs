using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace MaskRcnn.Modeling.Backbone;

/// <summary>
/// BatchNorm2d with fixed statistics and affine parameters (buffers, never trained): y = x·s + b with
/// s = weight / √(running_var + eps), b = bias − running_mean·s. What detection models use when batches
/// are too small to estimate statistics (torchvision's default for pretrained backbones, matterport's
/// TRAIN_BN = False). State-dict keys as torchvision's: weight, bias, running_mean, running_var.
/// </summary>
public sealed class FrozenBatchNorm2d : Module<Tensor, Tensor>
{
    readonly Tensor weight, bias, running_mean, running_var;
    public double Eps { get; }

    public FrozenBatchNorm2d(long numFeatures, double eps = 1e-5) : base(nameof(FrozenBatchNorm2d))
    {
        Eps = eps;
        weight = ones(numFeatures);
        bias = zeros(numFeatures);
        running_mean = zeros(numFeatures);
        running_var = ones(numFeatures);
        register_buffer(nameof(weight), weight);
        register_buffer(nameof(bias), bias);
        register_buffer(nameof(running_mean), running_mean);
        register_buffer(nameof(running_var), running_var);
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        using var eps = Eps.ToScalar();                 // explicit: see BatchNorm2d on implicit Scalars
        var scale = weight * running_var.add(eps).rsqrt();
        var shift = bias - running_mean * scale;
        return (x * scale.view(1, -1, 1, 1) + shift.view(1, -1, 1, 1)).MoveToOuterDisposeScope();
    }
}
