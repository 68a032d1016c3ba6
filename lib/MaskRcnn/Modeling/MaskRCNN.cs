using MaskRcnn.Config;
using MaskRcnn.Modeling.Backbone;
using MaskRcnn.Modeling.Ops;
using MaskRcnn.Modeling.RoiHeads;
using MaskRcnn.Modeling.Rpn;
using MaskRcnn.Modeling.Transform;
using MaskRcnn.Runtime;
using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace MaskRcnn.Modeling;

/// <summary>
/// Mask R-CNN (He et al. 2017) with torchvision's structure and state-dict names: transform → backbone
/// (ResNet + FPN) → rpn → roi_heads (box + mask) → postprocess. Each stage is a public method so notebooks
/// can run them one at a time; <see cref="Predict"/> runs them all, <see cref="Losses"/> and <see
/// cref="Backward(Tensor)"/>
/// train.
/// </summary>
public sealed class MaskRCNN : Module
{
    readonly BackboneWithFPN backbone;
    readonly RegionProposalNetwork rpn;
    readonly RoIHeads roi_heads;

    public MaskRcnnConfig Config { get; }
    public GeneralizedRCNNTransform Transform { get; }
    public BackboneWithFPN Backbone => backbone;
    public RegionProposalNetwork Rpn => rpn;
    public RoIHeads RoiHeads => roi_heads;

    /// <summary>Number of FPN levels the RoI poolers read ('0'..'3'; 'pool' is for the RPN only).</summary>
    public const int PooledLevels = 4;

    public MaskRCNN(MaskRcnnConfig config)
        : base(nameof(MaskRCNN))
    {
        config.Validate();
        Config = config;
        // The parts in torchvision's order (their random initialisation draws in this order); settings: ConfigMapping.
        Transform = config.ToTransform();
        backbone = new BackboneWithFPN(
            depth: config.BackboneDepth,
            norm: config.ToNormKind(),
            outChannels: config.FpnOutChannels,
            strideInOneByOne: config.StrideInOneByOne
        );
        backbone.SetTrainableLayers(config.TrainableBackboneLayers);
        var anchors = config.ToAnchorGenerator();
        var rpnHead = new RPNHead(inChannels: config.FpnOutChannels, numAnchors: anchors.NumAnchorsPerLocation[0]);
        rpn = new RegionProposalNetwork(anchors, rpnHead, config.ToRpnSettings());
        roi_heads = new RoIHeads(
            numClasses: config.NumClasses,
            inChannels: config.FpnOutChannels,
            representationSize: config.RepresentationSize,
            maskLayers: config.MaskLayers.Select(l => (long)l).ToArray(),
            maskDilation: config.MaskDilation,
            settings: config.ToRoiHeadSettings()
        );
        RegisterComponents();
    }

    /// <summary>
    /// The number format <see cref="Predict(IReadOnlyList{Tensor})"/> computes in: <see
    /// cref="ComputePrecision.Float32"/> (default, torchvision's results) or <see cref="ComputePrecision.BFloat16"/>
    /// (convolutions and fully connected layers in bfloat16; the last layers of the RPN and the heads, RoIAlign, box
    /// arithmetic and mask pasting stay float32). Training's precision is <see cref="TrainingSettings.Precision"/>.
    /// </summary>
    public ComputePrecision Precision { get; set; } = ComputePrecision.Float32;

    /// <summary>
    /// The number format of <see cref="Precision"/> for the network's stages until disposed (nothing changes for
    /// float32): wrap <see cref="Preprocess"/> … <see cref="DetectInRois"/> in it to run them as <see
    /// cref="Predict(IReadOnlyList{Tensor})"/> does; <see cref="Postprocess"/> runs after it.
    /// </summary>
    public IDisposable PrecisionScope() => PrecisionScope(Precision);

    /// <summary>
    /// The number format <paramref name="precision"/> for the network's stages until disposed. Training wraps the
    /// forward pass (<see cref="Losses"/>) in it and runs backward outside, as PyTorch's mixed-precision training does.
    /// </summary>
    public IDisposable PrecisionScope(ComputePrecision precision) => ModelCalls.Precision(Device, precision);

    /// <summary>The device the parameters live on.</summary>
    public Device Device => parameters().First().device;

    // ---- stages -------------------------------------------------------------------------------------

    /// <summary>Stage 1: normalise, resize, pad. Images are [3, H, W] floats in [0, 1] (any device).</summary>
    public (ImageList Images, IReadOnlyList<TargetTensors>? Targets) Preprocess(
        IReadOnlyList<Tensor> images,
        IReadOnlyList<TargetTensors>? targets = null
    )
    {
        var dev = Device;
        var onDevice = images.Select(i => i.to(dev)).ToArray();
        var t = targets?.Select(x => new TargetTensors(x.Boxes.to(dev), x.Labels.to(dev), x.Masks.to(dev))).ToArray();
        return Transform.Forward(onDevice, t, training);
    }

    /// <summary>Stage 2: FPN features '0', '1', '2', '3', 'pool' (strides 4 … 64).</summary>
    public Tensor[] Features(Tensor batch) => backbone.call(batch);

    /// <summary>Stage 3: anchors, objectness, proposals (and RPN losses in training).</summary>
    public RpnOutput ProposeRegions(
        ImageList images,
        Tensor[] features,
        IReadOnlyList<TargetTensors>? targets = null
    ) => rpn.Forward(images.Tensors, images.ImageSizes, features, targets?.Select(t => t.Boxes).ToArray());

    /// <summary>Stage 4: box and mask heads on the proposals (detections in resized-image pixels, or losses).</summary>
    public RoiHeadsOutput DetectInRois(
        ImageList images,
        Tensor[] features,
        IReadOnlyList<Tensor> proposals,
        IReadOnlyList<TargetTensors>? targets = null
    ) => roi_heads.Forward(features[..PooledLevels], proposals, images.ImageSizes, targets);

    /// <summary>
    /// Stage 5: boxes back to the original size, masks pasted and binarised. Runs outside <see
    /// cref="PrecisionScope()"/>: its products stay float32.
    /// </summary>
    public Detections Postprocess(RoiDetections d, (long H, long W) resizedSize, (long H, long W) originalSize)
    {
        using var scope = NewDisposeScope();
        var boxes = BoxOps.ResizeBoxes(d.Boxes, resizedSize, originalSize);
        Tensor? probs = null,
            masks = null;
        if (d.MaskProbs is not null)
        {
            probs = MaskOps.PasteMasksInImage(d.MaskProbs, boxes, originalSize);
            masks = probs.select(1, 0).gt(Config.MaskThreshold);
        }
        var detections = new Detections(boxes, d.Labels.clone(), d.Scores.clone(), probs, masks, originalSize);
        return detections.MoveToOuterDisposeScope();
    }

    // ---- whole model -----------------------------------------------------------------------------

    /// <summary>
    /// Detects and segments. Images are [3, H, W] float tensors in [0, 1] (RGB); results are in each image's
    /// own pixels. Runs in evaluation mode without gradients, in its own DisposeScope.
    /// </summary>
    public IReadOnlyList<Detections> Predict(IReadOnlyList<Tensor> images)
    {
        if (images.Count == 0)
            return [];
        bool wasTraining = training;
        if (wasTraining)
            eval();
        using var call = ModelCalls.Inference();
        try
        {
            using var noGrad = no_grad();
            using var scope = NewDisposeScope();
            ImageList list;
            RoiHeadsOutput heads;
            using (PrecisionScope())
            {
                (list, _) = Preprocess(images);
                var features = Features(list.Tensors);
                var rpnOut = ProposeRegions(list, features);
                heads = DetectInRois(list, features, rpnOut.Proposals);
            }
            var results = new List<Detections>();
            for (int i = 0; i < images.Count; i++)
            {
                var original = (images[i].shape[^2], images[i].shape[^1]);
                results.Add(Postprocess(heads.Detections[i], list.ImageSizes[i], original).MoveToOuterDisposeScope());
            }
            return results;
        }
        finally
        {
            if (wasTraining)
                train();
        }
    }

    /// <summary>Convenience: one image.</summary>
    public Detections Predict(Tensor image) => Predict([image])[0];

    /// <summary>
    /// Training forward pass: the loss dictionary (loss_classifier, loss_box_reg, loss_mask, loss_objectness,
    /// loss_rpn_box_reg), with gradients. Targets are in the original images' pixels; masks [G, H, W].
    /// Call <c>train()</c> first.
    /// </summary>
    public Dictionary<string, Tensor> Losses(IReadOnlyList<Tensor> images, IReadOnlyList<TargetTensors> targets)
    {
        if (!training)
            throw new InvalidOperationException("Losses needs training mode: call model.train() first");
        if (images.Count != targets.Count)
            throw new ArgumentException($"{images.Count} images but {targets.Count} targets");
        using var step = ModelCalls.Step();
        using var scope = NewDisposeScope();
        var (list, resizedTargets) = Preprocess(images, targets);
        var features = Features(list.Tensors);
        var rpnOut = ProposeRegions(list, features, resizedTargets);
        var heads = DetectInRois(list, features, rpnOut.Proposals, resizedTargets);
        var losses = heads.Losses.Concat(rpnOut.Losses).ToDictionary(kv => kv.Key, kv => kv.Value);
        losses.Values.MoveToOuterDisposeScope();
        return losses;
    }

    /// <summary>
    /// The backward pass of a training step: <c>loss.backward()</c> for this model's layers, which also throws the
    /// errors a layer met inside its own backward pass (libtorch's autograd engine cannot carry exceptions). Train
    /// with this rather than <c>loss.backward()</c>.
    /// </summary>
    public void Backward(Tensor loss) => Layers.Backward(loss);

    /// <summary>
    /// <c>torch.autograd.backward(tensors, gradients)</c> through this model's layers, with the same error check as
    /// <see cref="Backward(Tensor)"/>: for a backward pass split into parts (the training-step profiler).
    /// </summary>
    public void Backward(IList<Tensor> tensors, IList<Tensor> gradients) => Layers.Backward(tensors, gradients);
}
