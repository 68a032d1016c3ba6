using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace MaskRcnn.Modeling.RoiHeads;

/// <summary>Two fully connected layers on the flattened 7×7 RoI features (torchvision's TwoMLPHead: fc6,
/// fc7).</summary>
public sealed class TwoMLPHead : Module<Tensor, Tensor>
{
    readonly Module<Tensor, Tensor> fc6,
        fc7;

    /// <param name="inChannels">C·7·7 of the pooled RoI features [R, C, 7, 7]</param>
    public TwoMLPHead(long inChannels, long representationSize)
        : base(nameof(TwoMLPHead))
    {
        fc6 = Layers.Linear(inChannels, representationSize); // flattens the pooled features itself
        fc7 = Layers.FeatureLinear(representationSize, representationSize); // what the predictor reads
        RegisterComponents();
    }

    /// <returns>[R, representationSize]</returns>
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        x = functional.relu(fc6.call(x));
        return functional.relu(fc7.call(x)).MoveToOuterDisposeScope();
    }
}

/// <summary>Class scores (cls_score, K logits incl. background) and per-class box deltas (bbox_pred, 4K).</summary>
public sealed class FastRCNNPredictor : Module<Tensor, (Tensor ClassLogits, Tensor BoxRegression)>
{
    readonly Module<Tensor, Tensor> cls_score,
        bbox_pred;

    public FastRCNNPredictor(long inChannels, long numClasses)
        : base(nameof(FastRCNNPredictor))
    {
        cls_score = Layers.OutputLinear(inChannels, numClasses);
        bbox_pred = Layers.OutputLinear(inChannels, numClasses * 4);
        RegisterComponents();
    }

    public override (Tensor ClassLogits, Tensor BoxRegression) forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        x = x.flatten(1);
        return (cls_score.call(x).MoveToOuterDisposeScope(), bbox_pred.call(x).MoveToOuterDisposeScope());
    }
}
