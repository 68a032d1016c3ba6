using MaskRcnn.Modeling.Ops;
using MaskRcnn.Modeling.Utils;
using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace MaskRcnn.Modeling.Rpn;

/// <summary>RPN hyper-parameters (torchvision's names; defaults are torchvision's).</summary>
public sealed record RpnSettings(
    int PreNmsTopNTrain = 2000,
    int PreNmsTopNTest = 1000,
    int PostNmsTopNTrain = 2000,
    int PostNmsTopNTest = 1000,
    double NmsThresh = 0.7,
    double FgIouThresh = 0.7,
    double BgIouThresh = 0.3,
    int BatchSizePerImage = 256,
    double PositiveFraction = 0.5,
    double ScoreThresh = 0.0,
    double MinSize = 1e-3
);

/// <summary>Everything the RPN computed for a batch; what <see cref="RegionProposalNetwork.Forward"/>
/// returns.</summary>
/// <param name="Anchors">[A, 4] anchors (the same for every image), resized-image pixels</param>
/// <param name="AnchorsPerLevel">number of anchors on each level</param>
/// <param name="Objectness">[N·A] logits in anchor order</param>
/// <param name="Deltas">[N·A, 4] box deltas in anchor order</param>
/// <param name="Proposals">per image [P_i, 4] after top-n, clipping, small-box removal, NMS, post top-n</param>
/// <param name="ProposalScores">per image [P_i] sigmoid objectness of the proposals</param>
/// <param name="Losses">"loss_objectness", "loss_rpn_box_reg" in training, else empty</param>
public sealed record RpnOutput(
    Tensor Anchors,
    long[] AnchorsPerLevel,
    Tensor Objectness,
    Tensor Deltas,
    IReadOnlyList<Tensor> Proposals,
    IReadOnlyList<Tensor> ProposalScores,
    IReadOnlyDictionary<string, Tensor> Losses
) : IOwnsTensors
{
    public IEnumerable<Tensor> OwnedTensors =>
        [Anchors, Objectness, Deltas, .. Proposals, .. ProposalScores, .. Losses.Values];
}

/// <summary>Anchor labels for training: 1 positive, 0 negative, −1 ignored; and each anchor's matched GT box.</summary>
public sealed record RpnTargets(IReadOnlyList<Tensor> Labels, IReadOnlyList<Tensor> MatchedGtBoxes);

/// <summary>
/// Region Proposal Network (Ren et al., Faster R-CNN), as torchvision's RegionProposalNetwork: scores and
/// refines every anchor, keeps the best per level, clips, drops tiny boxes, runs NMS per level and keeps
/// the top post-NMS proposals. In training it also labels anchors against the ground truth and returns the
/// objectness (BCE) and box (smooth-L1, β = 1/9) losses.
/// </summary>
public sealed class RegionProposalNetwork : Module
{
    readonly RPNHead head;
    public AnchorGenerator AnchorGenerator { get; }
    public RPNHead Head => head;
    public RpnSettings Settings { get; }
    public BoxCoder BoxCoder { get; } = new([1.0, 1.0, 1.0, 1.0]);
    public Matcher ProposalMatcher { get; }
    public BalancedPositiveNegativeSampler Sampler { get; }

    public RegionProposalNetwork(AnchorGenerator anchorGenerator, RPNHead head, RpnSettings settings)
        : base(nameof(RegionProposalNetwork))
    {
        AnchorGenerator = anchorGenerator;
        this.head = head;
        Settings = settings;
        ProposalMatcher = new Matcher(settings.FgIouThresh, settings.BgIouThresh, allowLowQualityMatches: true);
        Sampler = new BalancedPositiveNegativeSampler(settings.BatchSizePerImage, settings.PositiveFraction);
        RegisterComponents();
    }

    int PreNmsTopN => training ? Settings.PreNmsTopNTrain : Settings.PreNmsTopNTest;
    int PostNmsTopN => training ? Settings.PostNmsTopNTrain : Settings.PostNmsTopNTest;

    /// <param name="images">padded batch [N, 3, H, W] (only its size is used)</param>
    /// <param name="imageSizes">per image (h, w) before padding</param>
    /// <param name="features">FPN levels, finest first</param>
    /// <param name="gtBoxes">per image [G_i, 4] (training only)</param>
    public RpnOutput Forward(
        Tensor images,
        IReadOnlyList<(long H, long W)> imageSizes,
        Tensor[] features,
        IReadOnlyList<Tensor>? gtBoxes = null
    )
    {
        using var scope = NewDisposeScope();
        var (objLevels, deltaLevels) = head.call(features);
        var (anchors, perLevel) = AnchorGenerator.Forward(
            (images.shape[2], images.shape[3]),
            features.Select(f => (f.shape[2], f.shape[3])).ToArray(),
            deltaLevels[0].dtype, // the type of the deltas decoded against them
            features[0].device
        );
        long numImages = images.shape[0];
        var (objectness, deltas) = RPNHead.Concat(objLevels, deltaLevels);

        var proposals = BoxCoder.DecodeSingle(deltas.detach(), anchors.repeat(numImages, 1)).view(numImages, -1, 4);
        var (boxes, scores) = FilterProposals(proposals, objectness, imageSizes, perLevel);

        var losses = new Dictionary<string, Tensor>();
        if (training)
        {
            if (gtBoxes is null)
                throw new ArgumentException("targets should not be None in training");
            var targets = AssignTargetsToAnchors(anchors, gtBoxes);
            var regressionTargets = targets.MatchedGtBoxes.Select(m => BoxCoder.Encode(m, anchors)).ToArray();
            var (lossObj, lossBox) = ComputeLoss(objectness, deltas, targets.Labels, regressionTargets);
            losses["loss_objectness"] = lossObj;
            losses["loss_rpn_box_reg"] = lossBox;
        }
        return new RpnOutput(anchors, perLevel, objectness, deltas, boxes, scores, losses).MoveToOuterDisposeScope();
    }

    /// <summary>One image's proposals before and after NMS (resized-image pixels).</summary>
    /// <param name="Candidates">after the per-level top-n, clipping, small-box removal and the score threshold: boxes
    /// [C, 4]</param>
    /// <param name="CandidateScores">sigmoid objectness [C]</param>
    /// <param name="CandidateLevels">FPN level index [C]</param>
    /// <param name="Boxes">after NMS per level and the post-NMS top-n [P, 4]</param>
    /// <param name="Scores">[P]</param>
    public sealed record ProposalSet(
        Tensor Candidates,
        Tensor CandidateScores,
        Tensor CandidateLevels,
        Tensor Boxes,
        Tensor Scores
    ) : IOwnsTensors
    {
        public IEnumerable<Tensor> OwnedTensors => [Candidates, CandidateScores, CandidateLevels, Boxes, Scores];
    }

    /// <summary>Per image: top-n per level, sigmoid, clip, remove small, score threshold, NMS per level, post
    /// top-n.</summary>
    public (List<Tensor> Boxes, List<Tensor> Scores) FilterProposals(
        Tensor proposals,
        Tensor objectness,
        IReadOnlyList<(long H, long W)> imageSizes,
        long[] anchorsPerLevel
    )
    {
        var sets = FilterProposalsDetailed(proposals, objectness, imageSizes, anchorsPerLevel);
        var boxes = sets.Select(s => s.Boxes).ToList();
        var scores = sets.Select(s => s.Scores).ToList();
        foreach (var s in sets)
        {
            s.Candidates.Dispose();
            s.CandidateScores.Dispose();
            s.CandidateLevels.Dispose();
        }
        return (boxes, scores);
    }

    /// <summary>As <see cref="FilterProposals"/>, keeping the candidates that went into NMS.</summary>
    public List<ProposalSet> FilterProposalsDetailed(
        Tensor proposals,
        Tensor objectness,
        IReadOnlyList<(long H, long W)> imageSizes,
        long[] anchorsPerLevel
    )
    {
        using var scope = NewDisposeScope();
        long numImages = proposals.shape[0];
        var device = proposals.device;
        objectness = objectness.detach().reshape(numImages, -1);
        var levels = cat(anchorsPerLevel.Select((n, i) => full(n, (long)i, dtype: int64, device: device)).ToArray())
            .reshape(1, -1)
            .expand_as(objectness);

        // Top-n anchors per level.
        var topIdx = new List<Tensor>();
        long offset = 0;
        foreach (var n in anchorsPerLevel)
        {
            var ob = objectness.narrow(1, offset, n);
            long k = Math.Min(PreNmsTopN, n);
            topIdx.Add(ob.topk((int)k, dim: 1).indexes + offset);
            offset += n;
        }
        var idx = cat(topIdx, 1);
        objectness = objectness.gather(1, idx);
        levels = levels.gather(1, idx);
        proposals = proposals.gather(1, idx.unsqueeze(-1).expand(-1, -1, 4));
        var probs = objectness.sigmoid();

        var result = new List<ProposalSet>();
        for (int i = 0; i < numImages; i++)
        {
            var boxes = BoxOps.ClipBoxesToImage(proposals[i], imageSizes[i].H, imageSizes[i].W);
            var scores = probs[i];
            var lvl = levels[i];
            var keep = BoxOps.RemoveSmallBoxes(boxes, Settings.MinSize);
            (boxes, scores, lvl) = (boxes[keep], scores[keep], lvl[keep]);
            keep = nonzero(scores.ge(Settings.ScoreThresh)).view(-1);
            (boxes, scores, lvl) = (boxes[keep], scores[keep], lvl[keep]);
            keep = Nms.Batched(boxes, scores, lvl, Settings.NmsThresh);
            keep = keep.narrow(0, 0, Math.Min(PostNmsTopN, keep.shape[0]));
            result.Add(new ProposalSet(boxes, scores, lvl, boxes[keep], scores[keep]).MoveToOuterDisposeScope());
        }
        return result;
    }

    /// <summary>Labels every anchor against one image's GT boxes (IoU ≥ 0.7 positive, &lt; 0.3 negative, plus each GT's
    /// best anchors).</summary>
    public RpnTargets AssignTargetsToAnchors(Tensor anchors, IReadOnlyList<Tensor> gtBoxes)
    {
        var labels = new List<Tensor>();
        var matched = new List<Tensor>();
        foreach (var gt in gtBoxes)
        {
            using var scope = NewDisposeScope();
            if (gt.numel() == 0)
            {
                matched.Add(zeros_like(anchors).MoveToOuterDisposeScope());
                labels.Add(zeros(anchors.shape[0], dtype: float32, device: anchors.device).MoveToOuterDisposeScope());
                continue;
            }
            var matchedIdx = ProposalMatcher.Match(BoxOps.BoxIou(gt, anchors));
            matched.Add(gt[matchedIdx.clamp_min(0)].MoveToOuterDisposeScope());
            var l = matchedIdx.ge(0).to(float32);
            l = l.masked_fill(matchedIdx.eq(Matcher.BelowLowThreshold), 0.0f);
            l = l.masked_fill(matchedIdx.eq(Matcher.BetweenThresholds), -1.0f);
            labels.Add(l.MoveToOuterDisposeScope());
        }
        return new RpnTargets(labels, matched);
    }

    /// <summary>Objectness BCE over the sampled anchors; smooth-L1 (β = 1/9) over sampled positives, divided by the
    /// sample count.</summary>
    public (Tensor Objectness, Tensor Box) ComputeLoss(
        Tensor objectness,
        Tensor deltas,
        IReadOnlyList<Tensor> labels,
        IReadOnlyList<Tensor> regressionTargets
    )
    {
        using var scope = NewDisposeScope();
        var (pos, neg) = Sampler.Sample(labels);
        var posIdx = nonzero(cat(pos, 0)).view(-1);
        var negIdx = nonzero(cat(neg, 0)).view(-1);
        var sampled = cat([posIdx, negIdx], 0);
        var obj = objectness.flatten();
        var allLabels = cat(labels.ToArray(), 0);
        var allTargets = cat(regressionTargets.ToArray(), 0);
        var boxLoss =
            functional.smooth_l1_loss(deltas[posIdx], allTargets[posIdx], reduction: Reduction.Sum, beta: 1.0 / 9)
            / sampled.numel();
        var objLoss = functional.binary_cross_entropy_with_logits(obj[sampled], allLabels[sampled]);
        return (objLoss.MoveToOuterDisposeScope(), boxLoss.MoveToOuterDisposeScope());
    }
}
