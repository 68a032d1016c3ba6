using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace MaskRcnn.Modeling.Rpn;

/// <summary>
/// The RPN head shared by all levels: 3×3 conv + ReLU (conv.0.0), then per anchor an objectness logit
/// (cls_logits, A channels) and four box deltas (bbox_pred, 4A channels). Weights N(0, 0.01), biases 0.
/// </summary>
public sealed class RPNHead : Module<Tensor[], (Tensor[] Objectness, Tensor[] Deltas)>
{
    readonly Sequential conv;
    readonly Module<Tensor, Tensor> cls_logits,
        bbox_pred;

    public RPNHead(long inChannels, long numAnchors)
        : base(nameof(RPNHead))
    {
        conv = Sequential(Sequential(Layers.Conv3x3(inChannels, inChannels), ReLU()));
        cls_logits = Layers.OutputConv1x1(inChannels, numAnchors);
        bbox_pred = Layers.OutputConv1x1(inChannels, numAnchors * 4);
        RegisterComponents();
        using var noGrad = no_grad();
        foreach (var (name, p) in named_parameters())
        {
            if (name.EndsWith("weight"))
                init.normal_(p, std: 0.01);
            else
                init.zeros_(p);
        }
    }

    /// <returns>per level objectness [N, A, H, W] and deltas [N, 4A, H, W]</returns>
    public override (Tensor[] Objectness, Tensor[] Deltas) forward(Tensor[] features)
    {
        var logits = new Tensor[features.Length];
        var deltas = new Tensor[features.Length];
        for (int i = 0; i < features.Length; i++)
        {
            using var scope = NewDisposeScope();
            var t = conv.call(features[i]);
            logits[i] = cls_logits.call(t).MoveToOuterDisposeScope();
            deltas[i] = bbox_pred.call(t).MoveToOuterDisposeScope();
        }
        return (logits, deltas);
    }

    /// <summary>
    /// Flattens per-level [N, A·C, H, W] maps to [N·ΣHWA, C] in anchor order (level, y, x, anchor), as
    /// torchvision's concat_box_prediction_layers.
    /// </summary>
    public static (Tensor Objectness, Tensor Deltas) Concat(Tensor[] objectness, Tensor[] deltas)
    {
        using var scope = NewDisposeScope();
        var o = new List<Tensor>();
        var d = new List<Tensor>();
        for (int i = 0; i < objectness.Length; i++)
        {
            long n = objectness[i].shape[0],
                h = objectness[i].shape[2],
                w = objectness[i].shape[3];
            long a = deltas[i].shape[1] / 4,
                c = objectness[i].shape[1] / a;
            o.Add(PermuteAndFlatten(objectness[i], n, c, h, w));
            d.Add(PermuteAndFlatten(deltas[i], n, 4, h, w));
        }
        var obj = cat(o, 1).flatten(0, -2);
        var del = cat(d, 1).reshape(-1, 4);
        return (obj.MoveToOuterDisposeScope(), del.MoveToOuterDisposeScope());
    }

    static Tensor PermuteAndFlatten(Tensor layer, long n, long c, long h, long w) =>
        layer.view(n, -1, c, h, w).permute(0, 3, 4, 1, 2).reshape(n, -1, c);
}
