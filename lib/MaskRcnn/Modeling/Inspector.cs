using MaskRcnn.Modeling.Backbone;
using MaskRcnn.Modeling.Ops;
using MaskRcnn.Modeling.RoiHeads;
using MaskRcnn.Modeling.Rpn;
using MaskRcnn.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace MaskRcnn.Modeling;

/// <summary>Runs the model stage by stage on one image and keeps everything (see <see
/// cref="InspectionResult"/>).</summary>
public static class Inspector
{
    /// <param name="model">the model, put in evaluation mode for the call</param>
    /// <param name="image">[3, H, W] float in [0, 1]</param>
    /// <param name="groundTruth">optional, original pixels: adds RPN and RoI training targets</param>
    /// <param name="layers">module names whose outputs to keep (see model.named_modules())</param>
    public static InspectionResult Inspect(
        MaskRCNN model,
        Tensor image,
        TargetTensors? groundTruth = null,
        IEnumerable<string>? layers = null
    )
    {
        bool wasTraining = model.training;
        model.eval();
        var activations = new Dictionary<string, Tensor>();
        var hooks = HookLayers(model, (layers ?? []).ToHashSet(), activations);
        try
        {
            using var step = ModelCalls.Step();
            using var noGrad = no_grad();
            using var scope = NewDisposeScope();

            var original = (image.shape[^2], image.shape[^1]);
            var (list, targets) = model.Preprocess([image], groundTruth is null ? null : [groundTruth]);
            var resized = list.ImageSizes[0];
            var features = model.Features(list.Tensors);
            var rpn = model.Rpn;
            var rpnOut = rpn.Forward(list.Tensors, list.ImageSizes, features);
            var refined = rpn.BoxCoder.DecodeSingle(rpnOut.Deltas, rpnOut.Anchors);
            var sets = rpn.FilterProposalsDetailed(
                refined.view(1, -1, 4),
                rpnOut.Objectness,
                list.ImageSizes,
                rpnOut.AnchorsPerLevel
            );
            var proposals = sets[0].Boxes;

            // The RoI heads' inference sub-stages, as RoIHeads.Forward runs them.
            var heads = model.RoiHeads;
            var pooled = features[..MaskRCNN.PooledLevels];
            var boxes = heads.ClassifyBoxes(pooled, [proposals], list.ImageSizes);
            var post = heads.PostprocessDetections(
                boxes.ClassLogits,
                boxes.BoxRegression,
                [proposals],
                list.ImageSizes
            );
            var masks = heads.HasMask ? heads.PredictMasks(pooled, post.Detections, list.ImageSizes) : null;
            var final = masks?.Detections[0] ?? post.Detections[0];
            var detections = model.Postprocess(final, resized, original);

            Tensor? anchorLabels = null;
            Tensor? anchorDeltas = null;
            Tensor? anchorMatched = null;
            TrainingSamples? samples = null;
            Tensor? maskRois = null;
            Tensor? maskTargets = null;
            if (targets is not null)
            {
                var t = rpn.AssignTargetsToAnchors(rpnOut.Anchors, [targets[0].Boxes]);
                anchorLabels = t.Labels[0];
                anchorMatched = t.MatchedGtBoxes[0];
                anchorDeltas = rpn.BoxCoder.Encode(anchorMatched, rpnOut.Anchors);
                samples = heads.SelectTrainingSamples([proposals], targets);
                var (positives, positiveMatched) = samples.Positives();
                maskRois = positives[0];
                maskTargets = MaskOps.ProjectMasksOnBoxes(
                    targets[0].Masks,
                    maskRois,
                    positiveMatched[0],
                    heads.Settings.MaskPoolSize * 2
                );
            }

            var strides = features.Select(f => (int)(list.Tensors.shape[2] / f.shape[2])).ToArray();
            var device = list.Tensors.device;
            var std = tensor(model.Config.ImageStd, dtype: float32, device: device).view(3, 1, 1);
            var mean = tensor(model.Config.ImageMean, dtype: float32, device: device).view(3, 1, 1);
            var resizedImage = list.Tensors[0, .., ..(int)resized.H, ..(int)resized.W] * std + mean;
            return new InspectionResult
            {
                Image = Keep(image),
                OriginalSize = original,
                Input = Keep(list.Tensors[0]),
                ResizedSize = resized,
                ResizedImage = Keep(resizedImage.clamp(0, 1)),
                Scale = (double)resized.H / original.Item1,
                Features = features.Select((f, i) => (BackboneWithFPN.LevelNames[i], Keep(f[0]), strides[i])).ToArray(),
                Anchors = Keep(rpnOut.Anchors),
                AnchorsPerLevel = rpnOut.AnchorsPerLevel,
                Objectness = Keep(rpnOut.Objectness.flatten()),
                RpnDeltas = Keep(rpnOut.Deltas),
                RefinedAnchors = Keep(refined),
                ProposalsBeforeNms = Keep(sets[0].Candidates),
                ProposalScoresBeforeNms = Keep(sets[0].CandidateScores),
                ProposalLevelsBeforeNms = Keep(sets[0].CandidateLevels),
                Proposals = Keep(proposals),
                ProposalScores = Keep(sets[0].Scores),
                ClassProbabilities = Keep(post.Probabilities[0]),
                RefinedBoxes = Keep(post.Decoded[0]),
                AfterScoreThreshold = Keep(post.AboveThreshold[0]),
                AfterNms = Keep(post.Detections[0]),
                MaskLogits = Keep(masks?.Logits ?? zeros(0)),
                MaskProbabilities = Keep(final.MaskProbs ?? zeros(0)),
                Detections = new Detections(
                    Keep(detections.Boxes),
                    Keep(detections.Labels),
                    Keep(detections.Scores),
                    KeepOptional(detections.MaskProbs),
                    KeepOptional(detections.Masks),
                    detections.ImageSize
                ),
                AnchorLabels = KeepOptional(anchorLabels),
                AnchorTargetDeltas = KeepOptional(anchorDeltas),
                AnchorMatchedBoxes = KeepOptional(anchorMatched),
                SampledRois = KeepOptional(samples?.Proposals[0]),
                SampledRoiLabels = KeepOptional(samples?.Labels[0]),
                SampledRoiTargets = KeepOptional(samples?.RegressionTargets[0]),
                MaskTargetRois = KeepOptional(maskRois),
                MaskTargets = KeepOptional(maskTargets),
                GroundTruth = targets is null
                    ? null
                    : new TargetTensors(Keep(targets[0].Boxes), Keep(targets[0].Labels), Keep(targets[0].Masks)),
                Activations = activations,
            };
        }
        finally
        {
            foreach (var remove in hooks)
                remove();
            if (wasTraining)
                model.train();
        }
    }

    /// <summary>A detached CPU copy that outlives the inspection's dispose scope.</summary>
    static Tensor Keep(Tensor t) => t.detach().cpu().contiguous().MoveToOuterDisposeScope();

    static Tensor? KeepOptional(Tensor? t) => t is null ? null : Keep(t);

    static RoiDetections Keep(RoiDetections d) =>
        new(Keep(d.Boxes), Keep(d.Scores), Keep(d.Labels), KeepOptional(d.MaskProbs));

    /// <summary>Forward hooks that keep a CPU copy of each named layer's output; returns their removers.</summary>
    static List<Action> HookLayers(MaskRCNN model, HashSet<string> wanted, Dictionary<string, Tensor> activations)
    {
        var missing = wanted.Except(model.named_modules().Select(n => n.name)).ToList();
        if (missing.Count > 0)
            throw new ArgumentException($"no layer named {string.Join(", ", missing)} (see model.named_modules())");
        var hooks = new List<Action>();
        foreach (var (name, module) in model.named_modules())
        {
            if (!wanted.Contains(name) || module is not nn.Module<Tensor, Tensor> layer)
                continue;
            var handle = layer.register_forward_hook(
                (_, _, output) =>
                {
                    activations[name] = output.detach().cpu().clone().DetachFromDisposeScope();
                    return output;
                }
            );
            hooks.Add(handle.remove);
        }
        return hooks;
    }
}
