using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace MaskRcnn.Modeling.Backbone;

/// <summary>
/// Trainable BatchNorm2d with PyTorch's semantics and state-dict names (weight, bias, running_mean,
/// running_var, num_batches_tracked; momentum 0.1, eps 1e-5). Our own rather than TorchSharp's because that
/// one increments num_batches_tracked with an implicitly created Scalar that may be finalized while libtorch still
/// reads it (seen as "Unknown scalar type" during long training runs; lib/README.md, "TorchSharp's implicit
/// Scalars"); here every Scalar lives as long as the module.
/// </summary>
public sealed class BatchNorm2d : Module<Tensor, Tensor>
{
    readonly Parameter weight,
        bias;
    readonly Tensor running_mean,
        running_var,
        num_batches_tracked;
    static readonly Scalar One = 1.ToScalar();
    public double Eps { get; }
    public double Momentum { get; }

    public BatchNorm2d(long numFeatures, double eps = 1e-5, double momentum = 0.1)
        : base(nameof(BatchNorm2d))
    {
        Eps = eps;
        Momentum = momentum;
        weight = new Parameter(ones(numFeatures));
        bias = new Parameter(zeros(numFeatures));
        running_mean = zeros(numFeatures);
        running_var = ones(numFeatures);
        num_batches_tracked = zeros(Array.Empty<long>(), dtype: int64);
        register_parameter(nameof(weight), weight);
        register_parameter(nameof(bias), bias);
        register_buffer(nameof(running_mean), running_mean);
        register_buffer(nameof(running_var), running_var);
        register_buffer(nameof(num_batches_tracked), num_batches_tracked);
    }

    public override Tensor forward(Tensor x)
    {
        if (training)
            using (no_grad())
                num_batches_tracked.add_(One, One);
        return functional.batch_norm(x, running_mean, running_var, weight, bias, training, Momentum, Eps);
    }
}
