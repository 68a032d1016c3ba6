using MaskRcnn.Modeling.Kernels;
using MaskRcnn.Modeling.Ops;
using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace MaskRcnn.Modeling;

/// <summary>
/// The layers whose computation the library picks for speed, made in one place so that the model files read as
/// Mask R-CNN alone. Each layer has the parameters, state-dict keys, initialisation and results (to float rounding)
/// of the torch layer it stands for; how it computes on this machine is decided here and in <c>Ops/</c>
/// (PERFORMANCE.md says what each choice gains).
/// </summary>
public static class Layers
{
    /// <summary>
    /// nn.Conv2d with a 3×3 kernel (keys weight, bias). On the CPU in float32 it runs as Winograd F(4×4, 3×3) where
    /// that pays (<see cref="WinogradConv2d"/>), else as the direct convolution.
    /// </summary>
    /// <returns>a module mapping [N, inChannels, H, W] to [N, outChannels, H', W']</returns>
    public static Module<Tensor, Tensor> Conv3x3(
        long inChannels,
        long outChannels,
        long stride = 1,
        long padding = 1,
        long dilation = 1,
        bool bias = true
    ) => new WinogradConv2d(inChannels, outChannels, stride, padding, dilation, bias);

    /// <summary>
    /// nn.Linear applied to <c>x.flatten(1)</c> (keys weight [out, in], bias): takes pooled RoI features [R, C, h, w]
    /// as they come. Computed as oneMKL's product or, where oneMKL keeps this CPU on its generic kernels, as a
    /// convolution over the whole input (<see cref="FlattenedLinear"/>).
    /// </summary>
    /// <returns>a module mapping [R, ...] with inFeatures values per row to [R, outFeatures]</returns>
    public static Module<Tensor, Tensor> Linear(long inFeatures, long outFeatures) =>
        new FlattenedLinear(inFeatures, outFeatures);

    /// <summary>
    /// The multi-scale RoIAlign whose output feeds a <see cref="Linear"/> layer: it writes its [K, C, S, S] result in
    /// the memory layout that layer reads fastest on this machine.
    /// </summary>
    public static MultiScaleRoIAlign RoIAlignForLinear(int outputSize, int samplingRatio) =>
        new(outputSize, samplingRatio) { ChannelsLastOutput = FlattenedLinear.PrefersChannelsLastInput };

    /// <summary>
    /// <c>loss.backward()</c>, then the first error a layer of this factory met inside its own backward pass, thrown
    /// here: an exception cannot cross libtorch's autograd engine, so such a layer keeps it for this call to throw.
    /// </summary>
    public static void Backward(Tensor loss)
    {
        loss.backward();
        WinogradTraining.ThrowIfBackwardFailed();
    }

    /// <summary>
    /// <c>torch.autograd.backward(tensors, gradients)</c>, then the errors of the factory's layers as in
    /// <see cref="Backward(Tensor)"/>.
    /// </summary>
    public static void Backward(IList<Tensor> tensors, IList<Tensor> gradients)
    {
        autograd.backward(tensors, gradients);
        WinogradTraining.ThrowIfBackwardFailed();
    }
}
