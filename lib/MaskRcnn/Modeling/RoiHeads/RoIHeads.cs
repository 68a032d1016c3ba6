using MaskRcnn.Modeling.Ops;
using MaskRcnn.Modeling.Utils;
using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace MaskRcnn.Modeling.RoiHeads;

/// <summary>
/// The second stage (Fast R-CNN box head + Mask R-CNN mask head), as torchvision's RoIHeads: RoIAlign the
/// proposals from the FPN levels, classify and refine them, and predict a 28×28 mask per detection.
/// Training samples 512 RoIs per image (25 % positives, GT boxes added as proposals) and returns
/// loss_classifier (cross-entropy), loss_box_reg (smooth-L1, β = 1/9, on the GT class) and loss_mask (BCE on
/// the GT class's mask); inference applies softmax, per-class box decoding, clipping, the score threshold,
/// small-box removal, per-class NMS and the detections-per-image limit.
/// </summary>
public sealed class RoIHeads : Module
{
    readonly TwoMLPHead box_head;
    readonly FastRCNNPredictor box_predictor;
    readonly MaskRCNNHeads? mask_head;
    readonly MaskRCNNPredictor? mask_predictor;

    public RoiHeadSettings Settings { get; }
    public MultiScaleRoIAlign BoxRoiPool { get; }
    public MultiScaleRoIAlign MaskRoiPool { get; }
    public BoxCoder BoxCoder { get; }
    public Matcher ProposalMatcher { get; }
    public BalancedPositiveNegativeSampler Sampler { get; }
    public bool HasMask => mask_head is not null;
    public TwoMLPHead BoxHead => box_head;
    public FastRCNNPredictor BoxPredictor => box_predictor;
    public MaskRCNNHeads? MaskHead => mask_head;
    public MaskRCNNPredictor? MaskPredictor => mask_predictor;

    public RoIHeads(
        long numClasses,
        long inChannels,
        long representationSize,
        IReadOnlyList<long> maskLayers,
        long maskDilation,
        RoiHeadSettings settings,
        bool withMask = true
    )
        : base(nameof(RoIHeads))
    {
        Settings = settings;
        BoxRoiPool = Layers.RoIAlignForLinear(settings.BoxPoolSize, settings.SamplingRatio); // feeds fc6
        MaskRoiPool = Layers.RoIAlign(settings.MaskPoolSize, settings.SamplingRatio); // feeds the mask head's convs
        box_head = new TwoMLPHead(inChannels * settings.BoxPoolSize * settings.BoxPoolSize, representationSize);
        box_predictor = new FastRCNNPredictor(representationSize, numClasses);
        if (withMask)
        {
            mask_head = new MaskRCNNHeads(inChannels, maskLayers, maskDilation);
            mask_predictor = new MaskRCNNPredictor(maskLayers[^1], 256, numClasses);
        }
        BoxCoder = new BoxCoder(settings.RegWeights);
        ProposalMatcher = new Matcher(settings.FgIouThresh, settings.BgIouThresh, allowLowQualityMatches: false);
        Sampler = new BalancedPositiveNegativeSampler(settings.BatchSizePerImage, settings.PositiveFraction);
        RegisterComponents();
    }

    /// <summary>
    /// The RoI heads' pass, as torchvision's RoIHeads.forward: in training, sample RoIs
    /// (<see cref="SelectTrainingSamples"/>), classify them (<see cref="ClassifyBoxes(Tensor[], IReadOnlyList{Tensor},
    /// IReadOnlyList{ValueTuple{long, long}})"/>) and return the losses; in inference, classify the proposals, keep the
    /// detections (<see cref="PostprocessDetections"/>) and predict their masks (<see cref="PredictMasks"/>).
    /// </summary>
    /// <param name="features">the pooled FPN levels '0'..'3', finest first</param>
    /// <param name="proposals">per image [P_i, 4] from the RPN</param>
    /// <param name="imageSizes">per image (h, w) after resizing</param>
    /// <param name="targets">per image ground truth (training only)</param>
    public RoiHeadsOutput Forward(
        Tensor[] features,
        IReadOnlyList<Tensor> proposals,
        IReadOnlyList<(long H, long W)> imageSizes,
        IReadOnlyList<TargetTensors>? targets = null
    )
    {
        using var scope = NewDisposeScope();
        if (!training)
        {
            var boxes = ClassifyBoxes(features, proposals, imageSizes);
            var detections = PostprocessDetections(
                boxes.ClassLogits,
                boxes.BoxRegression,
                proposals,
                imageSizes
            ).Detections;
            var masks = HasMask ? PredictMasks(features, detections, imageSizes) : null;
            // The proposals are the caller's: the output holds aliases of its own.
            var output = new RoiHeadsOutput(
                proposals.Select(p => p.alias()).ToArray(),
                boxes.ClassLogits,
                boxes.BoxRegression,
                masks?.Detections ?? detections,
                masks?.Logits,
                new Dictionary<string, Tensor>()
            );
            return output.MoveToOuterDisposeScope();
        }

        if (targets is null)
            throw new ArgumentException("targets should not be None in training");
        var samples = SelectTrainingSamples(proposals, targets);
        var (classLogits, boxRegression) = ClassifyBoxes(features, samples.Proposals, imageSizes);
        var losses = new Dictionary<string, Tensor>();
        (losses["loss_classifier"], losses["loss_box_reg"]) = FastRcnnLoss(
            classLogits,
            boxRegression,
            samples.Labels,
            samples.RegressionTargets
        );
        Tensor? maskLogits = null;
        Tensor? maskTargets = null;
        List<Tensor>? maskProposals = null;
        if (HasMask)
        {
            (maskProposals, var positiveMatched) = samples.Positives();
            maskLogits = MaskLogits(features, maskProposals, imageSizes);
            (losses["loss_mask"], maskTargets) = MaskRcnnLoss(maskLogits, maskProposals, targets, positiveMatched);
        }
        var trained = new RoiHeadsOutput(
            samples.Proposals,
            classLogits,
            boxRegression,
            [],
            maskLogits,
            losses,
            samples.Labels,
            samples.MatchedIdxs,
            samples.RegressionTargets,
            maskProposals,
            maskTargets
        );
        return trained.MoveToOuterDisposeScope();
    }

    // ---- sub-stages: what Forward, the inspector and the stage profiler run -----------------------------------------

    /// <summary>Box RoIAlign: [ΣR, C, 7, 7] features of each box, from the FPN level its size maps to.</summary>
    /// <param name="features">the pooled FPN levels '0'..'3', finest first</param>
    /// <param name="boxes">per image [R_i, 4] in resized-image pixels</param>
    /// <param name="imageSizes">per image (h, w) after resizing</param>
    public Tensor PoolBoxFeatures(
        Tensor[] features,
        IReadOnlyList<Tensor> boxes,
        IReadOnlyList<(long H, long W)> imageSizes
    ) => BoxRoiPool.Forward(features, boxes, imageSizes);

    /// <summary>The box head and predictor on pooled features [ΣR, C, 7, 7]: class logits and box deltas.</summary>
    public BoxPredictions ClassifyBoxes(Tensor pooled)
    {
        using var scope = NewDisposeScope();
        var (classLogits, boxRegression) = box_predictor.call(box_head.call(pooled));
        return new BoxPredictions(classLogits, boxRegression).MoveToOuterDisposeScope();
    }

    /// <summary>Classifies and refines boxes: <see cref="PoolBoxFeatures"/>, then <see
    /// cref="ClassifyBoxes(Tensor)"/>.</summary>
    public BoxPredictions ClassifyBoxes(
        Tensor[] features,
        IReadOnlyList<Tensor> boxes,
        IReadOnlyList<(long H, long W)> imageSizes
    )
    {
        using var scope = NewDisposeScope();
        return ClassifyBoxes(PoolBoxFeatures(features, boxes, imageSizes)).MoveToOuterDisposeScope();
    }

    /// <summary>Mask RoIAlign: [ΣD, C, 14, 14] features of each box.</summary>
    public Tensor PoolMaskFeatures(
        Tensor[] features,
        IReadOnlyList<Tensor> boxes,
        IReadOnlyList<(long H, long W)> imageSizes
    ) => MaskRoiPool.Forward(features, boxes, imageSizes);

    /// <summary>The mask head and predictor on pooled features [ΣD, C, 14, 14]: [ΣD, K, 28, 28] logits.</summary>
    public Tensor MaskLogits(Tensor pooled)
    {
        if (mask_head is null || mask_predictor is null)
            throw new InvalidOperationException("this model has no mask branch");
        using var scope = NewDisposeScope();
        return mask_predictor.call(mask_head.call(pooled)).MoveToOuterDisposeScope();
    }

    /// <summary>The mask branch on the given boxes: [ΣN, K, 28, 28] logits.</summary>
    public Tensor MaskLogits(Tensor[] features, IReadOnlyList<Tensor> boxes, IReadOnlyList<(long H, long W)> imageSizes)
    {
        using var scope = NewDisposeScope();
        return MaskLogits(PoolMaskFeatures(features, boxes, imageSizes)).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Masks for the detections: the mask branch on their boxes (<see cref="MaskLogits(Tensor[], IReadOnlyList{Tensor},
    /// IReadOnlyList{ValueTuple{long, long}})"/>), then each one's own class's probabilities
    /// (<see cref="WithMasks"/>).
    /// </summary>
    public MaskPredictions PredictMasks(
        Tensor[] features,
        IReadOnlyList<RoiDetections> detections,
        IReadOnlyList<(long H, long W)> imageSizes
    )
    {
        using var scope = NewDisposeScope();
        var logits = MaskLogits(features, detections.Select(d => d.Boxes).ToArray(), imageSizes);
        return WithMasks(detections, logits).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The detections with their masks: <see cref="MaskInference"/> of the mask logits [ΣD, K, 28, 28] for each
    /// detection's label. The new records hold aliases of the boxes, scores and labels, so they own every tensor they
    /// hold (as <paramref name="maskLogits"/>, which they keep).
    /// </summary>
    public static MaskPredictions WithMasks(IReadOnlyList<RoiDetections> detections, Tensor maskLogits)
    {
        var probs = MaskInference(maskLogits, detections.Select(d => d.Labels).ToArray());
        var withMasks = detections.Select(
            (d, i) => new RoiDetections(d.Boxes.alias(), d.Scores.alias(), d.Labels.alias(), probs[i])
        );
        return new MaskPredictions(maskLogits, withMasks.ToArray());
    }

    /// <summary>Sigmoid of each detection's own-class mask logits, split per image: [D_i, 1, 28, 28].</summary>
    public static Tensor[] MaskInference(Tensor maskLogits, IReadOnlyList<Tensor> labels)
    {
        using var scope = NewDisposeScope();
        var all = cat(labels.ToArray(), 0);
        var probs = maskLogits.sigmoid()[arange(all.shape[0], device: all.device), all].unsqueeze(1);
        return probs.split(labels.Select(l => l.shape[0]).ToArray(), 0).MoveToOuterDisposeScope();
    }

    /// <summary>Adds GT boxes to the proposals, matches (IoU ≥ 0.5 foreground), samples and encodes targets.</summary>
    public TrainingSamples SelectTrainingSamples(IReadOnlyList<Tensor> proposals, IReadOnlyList<TargetTensors> targets)
    {
        using var scope = NewDisposeScope();
        var dtype = proposals[0].dtype;
        var device = proposals[0].device;
        var gtBoxes = targets.Select(t => t.Boxes.to(dtype)).ToArray();
        var props = proposals.Select((p, i) => cat([p, gtBoxes[i]], 0)).ToList();

        var matched = new List<Tensor>();
        var labels = new List<Tensor>();
        for (int i = 0; i < props.Count; i++)
        {
            if (gtBoxes[i].numel() == 0)
            {
                matched.Add(zeros(props[i].shape[0], dtype: int64, device: device));
                labels.Add(zeros(props[i].shape[0], dtype: int64, device: device));
                continue;
            }
            var m = ProposalMatcher.Match(BoxOps.BoxIou(gtBoxes[i], props[i]));
            var clamped = m.clamp_min(0);
            var l = targets[i].Labels.to(int64)[clamped];
            l = l.masked_fill(m.eq(Matcher.BelowLowThreshold), 0).masked_fill(m.eq(Matcher.BetweenThresholds), -1);
            matched.Add(clamped);
            labels.Add(l);
        }

        var (pos, neg) = Sampler.Sample(labels);
        var regression = new List<Tensor>();
        for (int i = 0; i < props.Count; i++)
        {
            var sampled = nonzero(pos[i].logical_or(neg[i])).view(-1);
            props[i] = props[i][sampled];
            labels[i] = labels[i][sampled];
            matched[i] = matched[i][sampled];
            var gt = gtBoxes[i].numel() == 0 ? zeros(1, 4, dtype: dtype, device: device) : gtBoxes[i];
            regression.Add(BoxCoder.Encode(gt[matched[i]], props[i]));
        }
        return new TrainingSamples(props, matched, labels, regression).MoveToOuterDisposeScope();
    }

    /// <summary>Cross-entropy over sampled RoIs; smooth-L1 (β = 1/9) on the GT class's deltas of positives, over the
    /// RoI count.</summary>
    public static (Tensor Classifier, Tensor BoxReg) FastRcnnLoss(
        Tensor classLogits,
        Tensor boxRegression,
        IReadOnlyList<Tensor> labels,
        IReadOnlyList<Tensor> regressionTargets
    )
    {
        using var scope = NewDisposeScope();
        var l = cat(labels.ToArray(), 0);
        var targets = cat(regressionTargets.ToArray(), 0);
        var classification = functional.cross_entropy(classLogits, l);
        var pos = nonzero(l.gt(0)).view(-1);
        long n = classLogits.shape[0];
        var reg = boxRegression.reshape(n, -1, 4);
        var boxLoss =
            functional.smooth_l1_loss(reg[pos, l[pos]], targets[pos], reduction: Reduction.Sum, beta: 1.0 / 9)
            / l.numel();
        return (classification.MoveToOuterDisposeScope(), boxLoss.MoveToOuterDisposeScope());
    }

    /// <summary>BCE between the GT class's mask logits and the GT masks cropped to the positive RoIs.</summary>
    public static (Tensor Loss, Tensor Targets) MaskRcnnLoss(
        Tensor maskLogits,
        IReadOnlyList<Tensor> proposals,
        IReadOnlyList<TargetTensors> targets,
        IReadOnlyList<Tensor> matchedIdxs
    )
    {
        using var scope = NewDisposeScope();
        int m = (int)maskLogits.shape[^1];
        var labels = cat(targets.Select((t, i) => t.Labels.to(int64)[matchedIdxs[i]]).ToArray(), 0);
        var maskTargets = cat(
            targets.Select((t, i) => MaskOps.ProjectMasksOnBoxes(t.Masks, proposals[i], matchedIdxs[i], m)).ToArray(),
            0
        );
        Tensor loss =
            maskTargets.numel() == 0
                ? maskLogits.sum() * 0
                : functional.binary_cross_entropy_with_logits(
                    maskLogits[arange(labels.shape[0], device: labels.device), labels],
                    maskTargets
                );
        return (loss.MoveToOuterDisposeScope(), maskTargets.MoveToOuterDisposeScope());
    }

    /// <summary>torchvision's postprocess_detections, keeping the intermediate sets.</summary>
    public PostprocessedDetections PostprocessDetections(
        Tensor classLogits,
        Tensor boxRegression,
        IReadOnlyList<Tensor> proposals,
        IReadOnlyList<(long H, long W)> imageSizes,
        double? scoreThresh = null
    )
    {
        using var scope = NewDisposeScope();
        long numClasses = classLogits.shape[^1];
        var perImage = proposals.Select(p => p.shape[0]).ToArray();
        var predBoxes = BoxCoder.Decode(boxRegression, cat(proposals.ToArray(), 0)).split(perImage, 0);
        var predScores = functional.softmax(classLogits, -1).split(perImage, 0);
        double thresh = scoreThresh ?? Settings.ScoreThresh;

        var detections = new List<RoiDetections>();
        var decoded = new List<Tensor>();
        var above = new List<RoiDetections>();
        for (int i = 0; i < proposals.Count; i++)
        {
            var boxes = BoxOps.ClipBoxesToImage(predBoxes[i], imageSizes[i].H, imageSizes[i].W);
            var scores = predScores[i];
            var labels = arange(numClasses, device: classLogits.device).view(1, -1).expand_as(scores);
            decoded.Add(boxes);
            // Drop the background column, then one candidate per (RoI, class).
            var b = boxes[.., 1..].reshape(-1, 4);
            var s = scores[.., 1..].reshape(-1);
            var l = labels[.., 1..].reshape(-1);
            var keep = nonzero(s.gt(thresh)).view(-1);
            (b, s, l) = (b[keep], s[keep], l[keep]);
            keep = BoxOps.RemoveSmallBoxes(b, 1e-2);
            (b, s, l) = (b[keep], s[keep], l[keep]);
            above.Add(new RoiDetections(b, s, l, null));
            keep = Nms.Batched(b, s, l, Settings.NmsThresh);
            keep = keep.narrow(0, 0, Math.Min(Settings.DetectionsPerImg, keep.shape[0]));
            detections.Add(new RoiDetections(b[keep], s[keep], l[keep], null));
        }
        return new PostprocessedDetections(detections, decoded, predScores, above).MoveToOuterDisposeScope();
    }
}
