using MaskRcnn.Modeling.Kernels;
using MaskRcnn.Modeling.Ops;
using MaskRcnn.Runtime;
using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace MaskRcnn.Modeling;

/// <summary>
/// The layers whose computation the library picks, made in one place so that the model files read as Mask R-CNN
/// alone. Each layer has the parameters, state-dict keys, initialisation and results (to float rounding) of the torch
/// layer it stands for; how it computes on this machine is decided here and in <c>Kernels/</c>:
/// <list type="bullet">
/// <item>speed (PERFORMANCE.md says what each choice gains): Winograd 3×3 convolutions, the box head's fc6 as oneMKL's
/// product or a oneDNN convolution, the memory layout the network computes in (channels-last from the first
/// convolution on), the layout each RoIAlign writes for the layer it feeds;</item>
/// <item>the number format (<see cref="MaskRCNN.Precision"/>): under bfloat16 the network's convolutions and fully
/// connected layers compute in bfloat16, while what decides boxes, scores and masks stays in full precision — the
/// output layers (<see cref="OutputConv1x1"/>, <see cref="OutputLinear"/>) and RoIAlign; mask pasting runs after the
/// precision scope (<see cref="MaskRCNN.Postprocess"/>).</item>
/// </list>
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
    /// The network's first convolution, on the image (nn.Conv2d's keys weight[, bias]): it reads its input
    /// channels-last on the CPU, the layout oneDNN's convolutions run fastest on and keep, so the whole network computes
    /// in it (<see cref="ChannelsLastConv2d"/>). <paramref name="padding"/> may differ before and after.
    /// </summary>
    public static Module<Tensor, Tensor> StemConv(
        long inChannels,
        long outChannels,
        long kernelSize,
        long stride,
        (long Before, long After) padding,
        bool bias = true
    ) => new ChannelsLastConv2d(inChannels, outChannels, kernelSize, stride, padding, bias);

    /// <summary>
    /// nn.Linear applied to <c>x.flatten(1)</c> (keys weight [out, in], bias): takes pooled RoI features [R, C, h, w]
    /// as they come. Computed as oneMKL's product or, where oneMKL keeps this CPU on its generic kernels, as a
    /// convolution over the whole input (<see cref="FlattenedLinear"/>).
    /// </summary>
    /// <returns>a module mapping [R, ...] with inFeatures values per row to [R, outFeatures]</returns>
    public static Module<Tensor, Tensor> Linear(long inFeatures, long outFeatures) =>
        new FlattenedLinear(inFeatures, outFeatures);

    /// <summary>
    /// The box head's last fully connected layer (nn.Linear: keys weight [out, in], bias), whose features the box
    /// predictor's <see cref="OutputLinear"/> layers read: it computes in the model's number format and hands its
    /// result on in full precision (<see cref="FullPrecisionOutputLinear"/>), so both output layers read one converted
    /// tensor and their gradients meet in full precision.
    /// </summary>
    /// <returns>a module mapping [R, inFeatures] to [R, outFeatures] in full precision</returns>
    public static Module<Tensor, Tensor> FeatureLinear(long inFeatures, long outFeatures) =>
        new FullPrecisionOutputLinear(inFeatures, outFeatures);

    /// <summary>
    /// An output layer that decides the detections (the box predictor's class scores and box deltas): nn.Linear (keys
    /// weight, bias) computed in full precision whatever the model's number format — two small products
    /// (<see cref="FullPrecisionLinear"/>).
    /// </summary>
    /// <returns>a module mapping [R, inFeatures] to [R, outFeatures] in full precision</returns>
    public static Module<Tensor, Tensor> OutputLinear(long inFeatures, long outFeatures) =>
        new FullPrecisionLinear(inFeatures, outFeatures);

    /// <summary>
    /// An output layer over whole feature maps (the RPN's objectness and box deltas, the mask logits): nn.Conv2d with
    /// a 1×1 kernel (keys weight, bias) that computes in the model's number format and hands its result on in full
    /// precision, for box arithmetic, losses and mask pasting (<see cref="FullPrecisionOutputConv2d"/>).
    /// </summary>
    public static Module<Tensor, Tensor> OutputConv1x1(long inChannels, long outChannels) =>
        new FullPrecisionOutputConv2d(inChannels, outChannels);

    /// <summary>
    /// The multi-scale RoIAlign whose output feeds convolutions (the mask head): in full precision, its [K, C, S, S]
    /// result channels-last (<see cref="FullPrecisionRoIAlign"/>).
    /// </summary>
    public static MultiScaleRoIAlign RoIAlign(int outputSize, int samplingRatio) =>
        new FullPrecisionRoIAlign(outputSize, samplingRatio);

    /// <summary>
    /// The multi-scale RoIAlign whose output feeds a <see cref="Linear"/> layer: in full precision, its [K, C, S, S]
    /// result in the memory layout that layer reads fastest on this machine.
    /// </summary>
    public static MultiScaleRoIAlign RoIAlignForLinear(int outputSize, int samplingRatio) =>
        new FullPrecisionRoIAlign(outputSize, samplingRatio)
        {
            ChannelsLastOutput = FlattenedLinear.PrefersChannelsLastInput,
        };

    /// <summary>
    /// How the 3×3 layers of <paramref name="model"/> (<see cref="Conv3x3"/>) may use Winograd from now on: on
    /// (inference and training, where it pays), inference only, or off (the direct convolution everywhere). A new
    /// layer starts with the process's setting (MASKRCNN_WINOGRAD, read once: <see cref="WinogradConv2d.DefaultMode"/>).
    /// </summary>
    public static void UseWinograd(Module model, WinogradMode mode)
    {
        foreach (var module in model.modules())
            if (module is WinogradConv2d conv)
                conv.Mode = mode;
    }

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
