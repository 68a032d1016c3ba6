using MaskRcnn.Modeling;
using MaskRcnn.Modeling.Kernels;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MaskRcnn.Profiling;

/// <summary>One call of a counted layer: its name in the model, and its forward and backward FLOPs.</summary>
/// <param name="Layer">the module's name (<c>backbone.body.conv1</c>, <c>roi_heads.box_head.fc6</c>, …; the RoI
/// poolers as <c>roi_heads.box_roi_pool</c> and <c>roi_heads.mask_roi_pool</c>)</param>
/// <param name="Forward">floating-point operations of the forward pass (a multiply and an add count as 2)</param>
/// <param name="Backward">what its backward pass will compute, by <see cref="FlopCounter"/>'s rule</param>
public sealed record LayerFlops(string Layer, double Forward, double Backward);

/// <summary>
/// Counts the floating-point operations of a model's matrix products, call by call, with forward hooks on its layers.
/// <para><b>Forward.</b> Convolutions and linear layers from their weights and output shapes: 2 × output elements ×
/// (input channels per group × kernel height × kernel width), or 2 × output elements × input features; a transposed
/// convolution as 2 × input elements × (output channels per group × kernel area); RoIAlign (counted before the head
/// it feeds) as 4 bilinear taps × 2 per sample (sampling ratio² per bin) and channel. Winograd layers are counted as
/// the direct convolution they compute (they do ~4× fewer multiply-adds), so their GFLOP/s is the direct
/// convolution's equivalent. Element-wise work (ReLU, batch norm, additions, losses, NMS, box coding, the optimizer)
/// is not counted: it is small next to the products.</para>
/// <para><b>Backward</b> (only for calls that record a gradient: grad mode on). A product y = x·W has two gradients of
/// the forward's size each: the input's, ∂L/∂x = ∂L/∂y·Wᵀ, needed when x requires a gradient (some layer before it
/// trains), and the weight's, ∂L/∂W = xᵀ·∂L/∂y, needed when W trains. So a layer's backward FLOPs are its forward
/// FLOPs × (1 if its weight trains + 1 if its input requires a gradient): 2× for a trained layer inside the trained
/// part, 1× for the first trained layer (the stem convolution on the image, or layer3's first convolution in stage
/// <c>4+</c>: weight gradient only) and for a frozen layer after a trained one (input gradient only), 0 for a frozen
/// layer on a frozen input. RoIAlign has no weights: its backward (scattering the gradient back onto the features)
/// is 1× its forward when the features require a gradient. Bias gradients (a sum over the output) are
/// element-wise work and not counted.</para>
/// </summary>
public sealed class FlopCounter : IDisposable
{
    readonly List<Action> _removers = [];
    readonly List<LayerFlops> _calls = [];

    /// <summary>Every counted call since the counter was attached, in order.</summary>
    public IReadOnlyList<LayerFlops> Calls => _calls;

    /// <summary>Forward FLOPs counted so far.</summary>
    public double Forward { get; private set; }

    /// <summary>Backward FLOPs the counted calls will need.</summary>
    public double Backward { get; private set; }

    FlopCounter() { }

    /// <summary>Hooks every counted layer of <paramref name="model"/> and its two RoI poolers; dispose to
    /// unhook.</summary>
    public static FlopCounter Attach(MaskRCNN model)
    {
        var counter = new FlopCounter();
        try
        {
            foreach (var (name, module) in model.named_modules())
                counter.HookLayer(name, module);
            var heads = model.RoiHeads;
            counter.HookPooling("roi_heads.box_roi_pool", heads.BoxHead, heads.BoxRoiPool.SamplingRatio);
            if (heads.MaskHead is { } maskHead)
                counter.HookPooling("roi_heads.mask_roi_pool", maskHead, heads.MaskRoiPool.SamplingRatio);
        }
        catch
        {
            counter.Dispose();
            throw;
        }
        return counter;
    }

    /// <summary>Forward FLOPs of a convolution: each output element is a dot product of in/groups·kh·kw terms
    /// (weight [out, in/groups, kh, kw]).</summary>
    public static double ConvolutionFlops(Tensor weight, Tensor output) =>
        2.0 * output.numel() * weight.shape[1] * weight.shape[2] * weight.shape[3];

    /// <summary>Forward FLOPs of RoIAlign: 4 taps, a multiply and an add each, per sample and channel.</summary>
    public static double RoIAlignFlops(Tensor pooled, int samplingRatio) =>
        pooled.numel() * 8.0 * Math.Max(1, samplingRatio) * Math.Max(1, samplingRatio);

    /// <summary>How many of a product's two gradients a backward pass computes (see the class summary).</summary>
    public static int BackwardFactor(Tensor input, Tensor? weight) =>
        !is_grad_enabled() ? 0 : (input.requires_grad ? 1 : 0) + (weight is { requires_grad: true } ? 1 : 0);

    void Add(string layer, double forward, double backward)
    {
        _calls.Add(new LayerFlops(layer, forward, backward));
        Forward += forward;
        Backward += backward;
    }

    void HookLayer(string name, nn.Module module)
    {
        (Func<Tensor, Tensor, double> Forward, Tensor Weight)? count = module switch
        {
            Conv2d conv => ((input, output) => ConvolutionFlops(conv.weight!, output), conv.weight!),
            WinogradConv2d conv => ((input, output) => ConvolutionFlops(conv.weight, output), conv.weight),
            // weight [in, out/groups, kh, kw]: each input element is scattered onto out/groups·kh·kw outputs
            ConvTranspose2d deconv => (
                (input, output) =>
                {
                    var w = deconv.weight!.shape;
                    return 2.0 * input.numel() * w[1] * w[2] * w[3];
                },
                deconv.weight!
            ),
            ChannelsLastConv2d conv => ((input, output) => ConvolutionFlops(conv.weight, output), conv.weight),
            FullPrecisionOutputConv2d conv => ((input, output) => ConvolutionFlops(conv.weight, output), conv.weight),
            FlattenedLinear linear => ((input, output) => 2.0 * output.numel() * linear.InFeatures, linear.weight),
            FullPrecisionLinear linear => ((input, output) => 2.0 * output.numel() * linear.InFeatures, linear.weight),
            FullPrecisionOutputLinear linear => (
                (input, output) => 2.0 * output.numel() * linear.InFeatures,
                linear.weight
            ),
            Linear linear => ((input, output) => 2.0 * output.numel() * linear.weight!.shape[1], linear.weight!),
            _ => null,
        };
        if (count is not { } c)
            return;
        var hook = ((nn.Module<Tensor, Tensor>)module).register_forward_hook(
            (m, input, output) =>
            {
                double forward = c.Forward(input, output);
                Add(name, forward, forward * BackwardFactor(input, c.Weight));
                return null!; // keep the output
            }
        );
        _removers.Add(() => hook.remove());
    }

    /// <summary>RoIAlign is counted when the head it feeds starts, from the pooled features.</summary>
    void HookPooling(string name, nn.Module<Tensor, Tensor> head, int samplingRatio)
    {
        var hook = head.register_forward_pre_hook(
            (_, pooled) =>
            {
                double forward = RoIAlignFlops(pooled, samplingRatio);
                Add(name, forward, forward * BackwardFactor(pooled, null));
                return pooled;
            }
        );
        _removers.Add(() => hook.remove());
    }

    public void Dispose()
    {
        foreach (var remove in _removers)
            remove();
        _removers.Clear();
    }
}
