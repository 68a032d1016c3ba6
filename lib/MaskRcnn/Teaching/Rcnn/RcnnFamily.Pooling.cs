using MaskRcnn.Modeling;
using MaskRcnn.Modeling.Ops;
using MaskRcnn.Modeling.RoiHeads;
using static TorchSharp.torch;

namespace MaskRcnn.Teaching;

public static partial class RcnnFamily
{
    /// <summary>
    /// RoIPool from the FPN level each box's size maps to (FPN's level rule, as <see cref="MultiScaleRoIAlign"/>
    /// applies it): what FPN fed its box head before Mask R-CNN brought RoIAlign.
    /// </summary>
    public static Tensor MultiScaleRoIPool(
        MaskRCNN model,
        IReadOnlyList<Tensor> features,
        IReadOnlyList<Tensor> boxes,
        IReadOnlyList<(long H, long W)> imageSizes,
        int outputSize
    )
    {
        using var scope = NewDisposeScope();
        var rois = MultiScaleRoIAlign.ToRoiFormat(boxes);
        var (scales, mapper) = model.RoiHeads.BoxRoiPool.SetupScales(features, imageSizes);
        var levels = mapper.Map(rois[.., 1..]);
        var result = zeros(new long[] { rois.shape[0], features[0].shape[1], outputSize, outputSize });
        for (int level = 0; level < features.Count; level++)
        {
            var idx = nonzero(levels.eq(level)).view(-1);
            if (idx.shape[0] == 0)
                continue;
            var pooled = RoIPool.Apply(
                features[level],
                rois.index_select(0, idx),
                (outputSize, outputSize),
                scales[level]
            );
            result.index_copy_(0, idx, pooled);
        }
        return result.MoveToOuterDisposeScope();
    }

    /// <summary>RoIPool of every box from one level (<see cref="SingleLevel"/>: stride 16), as the 2015 papers pooled
    /// from their one feature map.</summary>
    public static Tensor SingleLevelRoIPool(
        MaskRCNN model,
        IReadOnlyList<Tensor> features,
        IReadOnlyList<Tensor> boxes,
        IReadOnlyList<(long H, long W)> imageSizes,
        int outputSize,
        int level = SingleLevel
    )
    {
        using var scope = NewDisposeScope();
        var rois = MultiScaleRoIAlign.ToRoiFormat(boxes);
        var (scales, _) = model.RoiHeads.BoxRoiPool.SetupScales(features, imageSizes);
        return RoIPool
            .Apply(features[level], rois, (outputSize, outputSize), scales[level])
            .contiguous()
            .MoveToOuterDisposeScope();
    }

    /// <summary>Mask Dice of the detected lesions, with masks from RoIAlign- and from RoIPool-pooled features; how many
    /// lesions were detected, of how many.</summary>
    public sealed record PoolingMaskQuality(double RoIAlignDice, double RoIPoolDice, int Detected, int Lesions);

    /// <summary>
    /// RoIPool against RoIAlign judged by what RoIAlign was invented for, mask quality. For each lesion of the first
    /// <paramref name="images"/> images, its detection is the full model's highest-scoring detection (score ≥ 0.5)
    /// whose box overlaps it with IoU ≥ 0.5; the mask head runs on that box's features pooled both ways (RoIPool from
    /// the level its size maps to), and each pasted mask's Dice with the lesion is averaged over the detected lesions
    /// (each lesion counted once, however many detections overlap it).
    /// </summary>
    public static PoolingMaskQuality CompareMaskPooling(MaskRCNN model, Data.Dataset dataset, int images)
    {
        using var gcPause = Runtime.GcPause.Enter();
        using var noGrad = no_grad();
        double alignSum = 0,
            poolSum = 0;
        int detected = 0,
            lesions = 0;
        var subset = dataset.Take(images);
        for (int i = 0; i < subset.Count; i++)
        {
            using var scope = NewDisposeScope();
            using var sample = subset.Load(i);
            lesions += (int)sample.Boxes.shape[0];
            var found = DetectLesions(model, sample);
            if (found.Lesions.shape[0] == 0)
                continue;
            var size = found.Size;
            var aligned = model.RoiHeads.MaskLogits(found.Features, [found.Boxes], [size]);
            var pooledFeatures = MultiScaleRoIPool(model, found.Features, [found.Boxes], [size], 14);
            var pooled = model.RoiHeads.MaskLogits(pooledFeatures);
            alignSum += DiceSum(model, aligned, found, sample);
            poolSum += DiceSum(model, pooled, found, sample);
            detected += (int)found.Lesions.shape[0];
        }
        return detected == 0
            ? new PoolingMaskQuality(double.NaN, double.NaN, 0, lesions)
            : new PoolingMaskQuality(alignSum / detected, poolSum / detected, detected, lesions);
    }

    /// <summary>The detected lesions of one image: each one's best detection (box in the resized frame, label), the
    /// lesion indices, and the pooled feature levels.</summary>
    sealed record LesionDetections(
        Tensor Boxes,
        Tensor Labels,
        Tensor Lesions,
        Tensor[] Features,
        (long H, long W) Size
    );

    static LesionDetections DetectLesions(MaskRCNN model, Data.Sample sample)
    {
        var (list, _) = model.Preprocess([sample.Image]);
        var size = list.ImageSizes[0];
        var allLevels = model.Features(list.Tensors);
        var features = allLevels[..MaskRCNN.PooledLevels];
        var proposals = model.ProposeRegions(list, allLevels).Proposals;
        var d = model.RoiHeads.Forward(features, proposals, list.ImageSizes).Detections[0];
        if (d.Boxes.shape[0] == 0 || sample.Boxes.shape[0] == 0)
            return new LesionDetections(d.Boxes, d.Labels, zeros(0, dtype: int64), features, size);
        var original = (sample.Image.shape[^2], sample.Image.shape[^1]);
        var iou = BoxOps.BoxIou(BoxOps.ResizeBoxes(d.Boxes, size, original), sample.Boxes); // [D, G]
        var eligible = iou.ge(0.5).logical_and(d.Scores.ge(0.5).unsqueeze(1));
        var score = where(eligible, d.Scores.unsqueeze(1).expand_as(iou), full_like(iou, -1f));
        var (best, detection) = score.max(0); // per lesion
        var lesions = nonzero(best.ge(0)).view(-1);
        var chosen = detection.index_select(0, lesions);
        return new LesionDetections(d.Boxes[chosen], d.Labels[chosen], lesions, features, size);
    }

    /// <summary>The sum over the detected lesions of the Dice of the mask (own class's sigmoid, pasted, thresholded)
    /// with the lesion's.</summary>
    static double DiceSum(MaskRCNN model, Tensor maskLogits, LesionDetections found, Data.Sample sample)
    {
        var original = (sample.Image.shape[^2], sample.Image.shape[^1]);
        var probs = RoIHeads.MaskInference(maskLogits, [found.Labels])[0];
        var boxes = BoxOps.ResizeBoxes(found.Boxes, found.Size, original);
        var masks = MaskOps.PasteMasksInImage(probs, boxes, original).select(1, 0).gt(model.Config.MaskThreshold);
        var predicted = masks.to(float32).flatten(1); // [M, H·W]
        var truth = sample.Masks.to(float32)[found.Lesions].flatten(1);
        var dice = 2 * (predicted * truth).sum(1) / (predicted.sum(1) + truth.sum(1)).clamp_min(1);
        return dice.sum().item<float>();
    }

    /// <summary>
    /// How far RoIPool's rounding moves each box: its corners snapped to the feature grid (stride in pixels), and
    /// the largest bin-edge displacement among the output bins, in image pixels. RoIAlign moves nothing.
    /// </summary>
    public static (double[] CornerError, double[] WorstBinError) RoiPoolMisalignment(
        Tensor boxes,
        int stride,
        int bins = 7
    )
    {
        var b = boxes.ToFloatArray();
        int n = b.Length / 4;
        var corner = new double[n];
        var worst = new double[n];
        for (int i = 0; i < n; i++)
        {
            double s = 1.0 / stride;
            double[] exact = [b[i * 4] * s, b[i * 4 + 1] * s, b[i * 4 + 2] * s, b[i * 4 + 3] * s];
            double[] rounded = exact.Select(v => Math.Round(v, MidpointRounding.AwayFromZero)).ToArray();
            corner[i] = exact.Zip(rounded, (e, r) => Math.Abs(e - r)).Max() * stride;
            double binExact = (exact[2] - exact[0]) / bins;
            double roiW = Math.Max(rounded[2] - rounded[0] + 1, 1),
                binRounded = roiW / bins;
            double err = 0;
            for (int k = 0; k <= bins; k++)
            {
                double e = exact[0] + k * binExact;
                double r = rounded[0] + (k == 0 ? 0 : Math.Ceiling(k * binRounded));
                err = Math.Max(err, Math.Abs(e - r));
            }
            worst[i] = err * stride;
        }
        return (corner, worst);
    }
}
