using MaskRcnn.Modeling.RoiHeads;
using TorchSharp;
using static TorchSharp.torch;

namespace MaskRcnn.Modeling;

/// <summary>
/// Every intermediate of one forward pass, as plain tensors on the CPU (detached), for notebooks and curious
/// users. Frames: "resized" = pixels of the resized image (before padding); "original" = the input image.
/// Dispose it to free the tensors (or leave them to be collected).
/// </summary>
public sealed class InspectionResult : IDisposable
{
    /// <summary>[3, H, W] the input, original pixels.</summary>
    public required Tensor Image { get; init; }
    public required (long H, long W) OriginalSize { get; init; }

    /// <summary>[3, Hp, Wp] normalised, resized and padded — what the backbone sees.</summary>
    public required Tensor Input { get; init; }
    public required (long H, long W) ResizedSize { get; init; }

    /// <summary>[3, h, w] the resized image in [0, 1] (what boxes in the resized frame are drawn on).</summary>
    public required Tensor ResizedImage { get; init; }

    /// <summary>resized / original.</summary>
    public required double Scale { get; init; }

    /// <summary>FPN levels '0', '1', '2', '3', 'pool': [C, h, w] each.</summary>
    public required IReadOnlyList<(string Name, Tensor Map, int Stride)> Features { get; init; }

    /// <summary>[A, 4] all anchors (resized frame), level by level.</summary>
    public required Tensor Anchors { get; init; }
    public required long[] AnchorsPerLevel { get; init; }

    /// <summary>[A] RPN objectness logits and [A, 4] box deltas, in anchor order.</summary>
    public required Tensor Objectness { get; init; }
    public required Tensor RpnDeltas { get; init; }

    /// <summary>[A, 4] every anchor refined by its deltas (resized frame).</summary>
    public required Tensor RefinedAnchors { get; init; }

    /// <summary>Proposals that went into the RPN's NMS (after top-n per level, clipping, small-box removal).</summary>
    public required Tensor ProposalsBeforeNms { get; init; }
    public required Tensor ProposalScoresBeforeNms { get; init; }
    public required Tensor ProposalLevelsBeforeNms { get; init; }

    /// <summary>[P, 4] and [P] the proposals passed to the RoI heads.</summary>
    public required Tensor Proposals { get; init; }
    public required Tensor ProposalScores { get; init; }

    /// <summary>[P, K] softmax class probabilities of every proposal (column 0 = background).</summary>
    public required Tensor ClassProbabilities { get; init; }

    /// <summary>[P, K, 4] each proposal refined for every class (clipped, resized frame).</summary>
    public required Tensor RefinedBoxes { get; init; }

    /// <summary>Candidates above the score threshold, before per-class NMS (resized frame).</summary>
    public required RoiDetections AfterScoreThreshold { get; init; }

    /// <summary>After per-class NMS and the detections-per-image limit (resized frame).</summary>
    public required RoiDetections AfterNms { get; init; }

    /// <summary>[D, K, 28, 28] mask logits of the final detections and [D, 1, 28, 28] their own class's
    /// probabilities.</summary>
    public required Tensor MaskLogits { get; init; }
    public required Tensor MaskProbabilities { get; init; }

    /// <summary>The final detections in original pixels — identical to <see
    /// cref="MaskRCNN.Predict(Tensor)"/>.</summary>
    public required Detections Detections { get; init; }

    /// <summary>With ground truth: per anchor 1 (positive), 0 (negative), −1 (ignored), and the regression targets [A,
    /// 4].</summary>
    public Tensor? AnchorLabels { get; init; }
    public Tensor? AnchorTargetDeltas { get; init; }
    public Tensor? AnchorMatchedBoxes { get; init; }

    /// <summary>With ground truth: the RoIs sampled for training, their labels (0 = background), box targets and mask
    /// targets [Pos, 28, 28].</summary>
    public Tensor? SampledRois { get; init; }
    public Tensor? SampledRoiLabels { get; init; }
    public Tensor? SampledRoiTargets { get; init; }
    public Tensor? MaskTargetRois { get; init; }
    public Tensor? MaskTargets { get; init; }

    /// <summary>Ground truth in the resized frame (boxes [G, 4], masks [G, h, w]).</summary>
    public TargetTensors? GroundTruth { get; init; }

    /// <summary>Outputs of the layers asked for by name (forward hooks), e.g. "backbone.body.layer1".</summary>
    public IReadOnlyDictionary<string, Tensor> Activations { get; init; } = new Dictionary<string, Tensor>();

    public void Dispose()
    {
        foreach (var p in GetType().GetProperties())
        {
            var v = p.GetValue(this);
            if (v is Tensor t)
                t.Dispose();
            if (v is IDisposable d and not InspectionResult)
                d.Dispose();
        }
        foreach (var (_, m, _) in Features)
            m.Dispose();
        foreach (var a in Activations.Values)
            a.Dispose();
    }
}
