using MaskRcnn.Modeling.Ops;
using MaskRcnn.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace MaskRcnn.Modeling.Kernels;

/// <summary>
/// <see cref="MultiScaleRoIAlign"/> as the model runs it (<see cref="Layers.RoIAlign"/>,
/// <see cref="Layers.RoIAlignForLinear"/>):
/// <list type="bullet">
/// <item>in full precision whatever the model's number format, as torchvision registers roi_align for autocast:
/// sampling positions in bfloat16 would be off by up to half a pixel at 128 px;</item>
/// <item>its result laid out for the layer it feeds: channels-last (default), what convolutions (the mask head) read
/// fastest, or plain contiguous [K, C, S, S], so that a fully connected head flattens it without a copy (the
/// transposition then happens in the pooler's copies instead of in a separate pass).</item>
/// </list>
/// </summary>
public sealed class FullPrecisionRoIAlign(int outputSize, int samplingRatio)
    : MultiScaleRoIAlign(outputSize, samplingRatio)
{
    /// <summary>True (default): the result is channels-last; false: contiguous.</summary>
    public bool ChannelsLastOutput { get; init; } = true;

    public override Tensor Forward(
        IReadOnlyList<Tensor> features,
        IReadOnlyList<Tensor> boxes,
        IReadOnlyList<(long H, long W)> imageSizes
    )
    {
        using var scope = NewDisposeScope();
        using var fullPrecision = Autocast.Suspend(features[0].device_type);
        var full = features.Select(f => f.FullPrecision()).ToArray();
        return base.Forward(full, boxes, imageSizes).MoveToOuterDisposeScope();
    }

    /// <summary>Channels-last like the pooled blocks, so the copies keep the layout (or contiguous: they
    /// transpose).</summary>
    protected override Tensor NewResult(long rois, Tensor like) =>
        ChannelsLastOutput
            ? zeros(new long[] { rois, OutputSize, OutputSize, like.shape[1] }, dtype: like.dtype, device: like.device)
                .permute(0, 3, 1, 2)
            : base.NewResult(rois, like);

    protected override Tensor SingleLevelResult(Tensor pooled) => ChannelsLastOutput ? pooled : pooled.contiguous();
}
