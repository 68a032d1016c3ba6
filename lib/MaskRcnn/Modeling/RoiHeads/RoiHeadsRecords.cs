using TorchSharp;
using static TorchSharp.torch;

namespace MaskRcnn.Modeling.RoiHeads;

/// <summary>RoI-head hyper-parameters (torchvision's names; defaults are torchvision's).</summary>
public sealed record RoiHeadSettings(
    double FgIouThresh = 0.5,
    double BgIouThresh = 0.5,
    int BatchSizePerImage = 512,
    double PositiveFraction = 0.25,
    double[]? BboxRegWeights = null,
    double ScoreThresh = 0.05,
    double NmsThresh = 0.5,
    int DetectionsPerImg = 100,
    int BoxPoolSize = 7,
    int MaskPoolSize = 14,
    int SamplingRatio = 2
)
{
    public double[] RegWeights => BboxRegWeights ?? [10.0, 10.0, 5.0, 5.0];
}

/// <summary>Per-image detections in resized-image pixels (before mapping back to the original image).</summary>
/// <param name="Boxes">[D, 4]</param>
/// <param name="Scores">[D] softmax probability of the label</param>
/// <param name="Labels">[D] int64 class index (≥ 1)</param>
/// <param name="MaskProbs">[D, 1, 28, 28] sigmoid of the label's mask logits (null for box-only models)</param>
public sealed record RoiDetections(Tensor Boxes, Tensor Scores, Tensor Labels, Tensor? MaskProbs) : IOwnsTensors
{
    public IEnumerable<Tensor> OwnedTensors => TensorRecords.Present(Boxes, Scores, Labels, MaskProbs);
}

/// <summary>The box branch's outputs for a set of RoIs (<see cref="RoIHeads.ClassifyBoxes(Tensor)"/>).</summary>
/// <param name="ClassLogits">[ΣR, K] class scores before softmax (column 0 = background)</param>
/// <param name="BoxRegression">[ΣR, 4K] per-class box deltas w.r.t. the RoIs (weights 10, 10, 5, 5)</param>
public sealed record BoxPredictions(Tensor ClassLogits, Tensor BoxRegression) : IOwnsTensors
{
    public IEnumerable<Tensor> OwnedTensors => [ClassLogits, BoxRegression];
}

/// <summary>The mask branch's outputs for a set of detections (<see cref="RoIHeads.PredictMasks"/>).</summary>
/// <param name="Logits">[ΣD, K, 28, 28] mask logits of every class</param>
/// <param name="Detections">per image, the detections with their own class's mask probabilities [D_i, 1, 28,
/// 28]</param>
public sealed record MaskPredictions(Tensor Logits, IReadOnlyList<RoiDetections> Detections) : IOwnsTensors
{
    public IEnumerable<Tensor> OwnedTensors => Detections.SelectMany(d => d.OwnedTensors).Prepend(Logits);
}

/// <summary>What the RoI heads produced; training extras are null in inference.</summary>
/// <param name="Proposals">per image, the RoIs that were classified (sampled ones in training)</param>
/// <param name="ClassLogits">[ΣR, K]</param>
/// <param name="BoxRegression">[ΣR, 4K] deltas w.r.t. the RoIs (weights 10, 10, 5, 5)</param>
/// <param name="Detections">per image (inference)</param>
/// <param name="MaskLogits">[D or P, K, 28, 28]</param>
/// <param name="Labels">training: per image sampled RoI labels (0 = background)</param>
/// <param name="MatchedIdxs">training: per image GT index of each sampled RoI</param>
/// <param name="RegressionTargets">training: per image [R, 4] encoded GT boxes</param>
/// <param name="MaskProposals">training: per image positive RoIs used by the mask branch</param>
/// <param name="MaskTargets">training: [P, 28, 28] GT masks cropped to the positive RoIs</param>
public sealed record RoiHeadsOutput(
    IReadOnlyList<Tensor> Proposals,
    Tensor ClassLogits,
    Tensor BoxRegression,
    IReadOnlyList<RoiDetections> Detections,
    Tensor? MaskLogits,
    IReadOnlyDictionary<string, Tensor> Losses,
    IReadOnlyList<Tensor>? Labels = null,
    IReadOnlyList<Tensor>? MatchedIdxs = null,
    IReadOnlyList<Tensor>? RegressionTargets = null,
    IReadOnlyList<Tensor>? MaskProposals = null,
    Tensor? MaskTargets = null
) : IOwnsTensors
{
    public IEnumerable<Tensor> OwnedTensors =>
        [
            .. Proposals,
            ClassLogits,
            BoxRegression,
            .. Detections.SelectMany(d => d.OwnedTensors),
            .. TensorRecords.Present(MaskLogits),
            .. Losses.Values,
            .. Labels ?? [],
            .. MatchedIdxs ?? [],
            .. RegressionTargets ?? [],
            .. MaskProposals ?? [],
            .. TensorRecords.Present(MaskTargets),
        ];
}

/// <summary>The RoIs a training step samples for the RoI heads (<see
/// cref="RoIHeads.SelectTrainingSamples"/>).</summary>
/// <param name="Proposals">per image [R_i, 4] sampled RoIs (resized-image pixels)</param>
/// <param name="MatchedIdxs">per image [R_i] index of each RoI's ground-truth box</param>
/// <param name="Labels">per image [R_i] int64 class of each RoI (0 = background)</param>
/// <param name="RegressionTargets">per image [R_i, 4] the matched ground truth encoded w.r.t. the RoI</param>
public sealed record TrainingSamples(
    List<Tensor> Proposals,
    List<Tensor> MatchedIdxs,
    List<Tensor> Labels,
    List<Tensor> RegressionTargets
) : IOwnsTensors
{
    public IEnumerable<Tensor> OwnedTensors => [.. Proposals, .. MatchedIdxs, .. Labels, .. RegressionTargets];

    /// <summary>The positive RoIs (label ≥ 1), what the mask branch trains on: per image [P_i, 4] and [P_i].</summary>
    public (List<Tensor> Proposals, List<Tensor> MatchedIdxs) Positives()
    {
        var proposals = new List<Tensor>();
        var matched = new List<Tensor>();
        for (int i = 0; i < Proposals.Count; i++)
        {
            var positive = nonzero(Labels[i].gt(0)).view(-1);
            proposals.Add(Proposals[i][positive]);
            matched.Add(MatchedIdxs[i][positive]);
        }
        return (proposals, matched);
    }
}

/// <summary>Ground truth of one image for training, in resized-image pixels.</summary>
/// <param name="Boxes">[G, 4] float</param>
/// <param name="Labels">[G] int64 (≥ 1)</param>
/// <param name="Masks">[G, H, W] uint8/bool, at the resized image size</param>
public sealed record TargetTensors(Tensor Boxes, Tensor Labels, Tensor Masks);

/// <summary>What <see cref="RoIHeads.PostprocessDetections"/> keeps: the detections and the intermediate sets the
/// inspection notebooks draw.</summary>
/// <param name="Detections">final, per image</param>
/// <param name="Decoded">per image [R, K, 4] refined boxes for every class (clipped)</param>
/// <param name="Probabilities">per image [R, K] softmax</param>
/// <param name="AboveThreshold">per image (boxes, scores, labels) after the score threshold and small-box removal,
/// before NMS</param>
public sealed record PostprocessedDetections(
    List<RoiDetections> Detections,
    IReadOnlyList<Tensor> Decoded,
    IReadOnlyList<Tensor> Probabilities,
    IReadOnlyList<RoiDetections> AboveThreshold
) : IOwnsTensors
{
    public IEnumerable<Tensor> OwnedTensors =>
        [.. Detections.Concat(AboveThreshold).SelectMany(d => d.OwnedTensors), .. Decoded, .. Probabilities];
}
