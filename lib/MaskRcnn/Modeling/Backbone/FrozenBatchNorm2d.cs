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
    readonly Tensor weight,
        bias,
        running_mean,
        running_var;
    public double Eps { get; }

    public FrozenBatchNorm2d(long numFeatures, double eps = 1e-5)
        : base(nameof(FrozenBatchNorm2d))
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

    /// <summary>
    /// One pass over x: libtorch's inference-mode batch norm computes the same y = x·s + b (s and b from the
    /// buffers, per channel), where x·s then + b would write and read a whole intermediate tensor. Gradients flow
    /// to x only, as with the buffers of torchvision's FrozenBatchNorm2d.
    /// </summary>
    public override Tensor forward(Tensor x) =>
        functional.batch_norm(x, running_mean, running_var, weight, bias, training: false, momentum: 0, eps: Eps);
}
