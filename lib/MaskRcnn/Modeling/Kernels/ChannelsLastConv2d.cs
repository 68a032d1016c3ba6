using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace MaskRcnn.Modeling.Kernels;

/// <summary>
/// nn.Conv2d (keys weight, bias; its initialisation and results) that reads its input channels-last (NHWC strides)
/// on the CPU: the network's first convolution (<see cref="Layers.StemConv"/>). oneDNN's convolutions run faster on
/// channels-last tensors and write their outputs channels-last, so every later layer keeps the layout
/// (PERFORMANCE.md). Padding may differ before and after (ML.NET's ResNet-18 pads 3 before and 2 after): the input is
/// then padded explicitly, after the layout change.
/// </summary>
public sealed class ChannelsLastConv2d : Module<Tensor, Tensor>
{
    public Parameter weight;
    public Parameter? bias;
    readonly long _stride,
        _paddingBefore,
        _paddingAfter;

    public ChannelsLastConv2d(
        long inChannels,
        long outChannels,
        long kernelSize,
        long stride,
        (long Before, long After) padding,
        bool hasBias
    )
        : base("Conv2d")
    {
        bool symmetric = padding.Before == padding.After;
        using (
            var init = Conv2d(
                inChannels,
                outChannels,
                kernelSize,
                stride: stride,
                padding: symmetric ? padding.Before : 0,
                bias: hasBias
            )
        )
        using (no_grad())
        {
            weight = new Parameter(init.weight!.detach().clone());
            if (hasBias)
                bias = new Parameter(init.bias!.detach().clone());
        }
        (_stride, _paddingBefore, _paddingAfter) = (stride, padding.Before, padding.After);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var input = x.ChannelsLast();
        if (_paddingBefore == _paddingAfter)
            return functional.conv2d(
                input,
                weight,
                bias,
                strides: [_stride, _stride],
                padding: [_paddingBefore, _paddingBefore]
            );
        using var padded = functional.pad(input, [_paddingBefore, _paddingAfter, _paddingBefore, _paddingAfter]);
        return functional.conv2d(padded, weight, bias, strides: [_stride, _stride]);
    }
}
