using MaskRcnn.Modeling;
using MaskRcnn.Modeling.Ops;
using static TorchSharp.torch;

namespace MaskRcnn.Teaching;

public static partial class RcnnFamily
{
    /// <summary>R-CNN: crop every region from the normalised image, warp it, backbone + box head on each.</summary>
    static GenerationRun DetectWarped(
        MaskRCNN model,
        Tensor image,
        SelectiveSearch.Result classical,
        int warp,
        int batchSize
    )
    {
        var laps = new Laps();
        var (list, _) = model.Preprocess([image]);
        var size = list.ImageSizes[0];
        var original = (image.shape[^2], image.shape[^1]);
        var regions = BoxOps.ResizeBoxes(classical.Boxes, original, size);
        double other = laps.Lap(),
            warping = 0,
            backbone = 0,
            heads = 0;
        var logits = new List<Tensor>();
        var deltas = new List<Tensor>();
        var b = regions.ToFloatArray();
        int count = b.Length / 4;
        for (int start = 0; start < count; start += batchSize)
        {
            int n = Math.Min(batchSize, count - start);
            var crops = Enumerable.Range(start, n).Select(i => Warp(list.Tensors, b.AsSpan(i * 4, 4), warp));
            var warped = cat(crops.ToArray(), 0);
            warping += laps.Lap();
            var features = model.Features(warped); // one CNN pass per region: the cost R-CNN paid
            backbone += laps.Lap();
            var whole = Enumerable.Range(0, n).Select(_ => tensor(new float[] { 0, 0, warp, warp }).view(1, 4));
            var sizes = Enumerable.Repeat(((long)warp, (long)warp), n).ToArray();
            var pooled = model.RoiHeads.PoolBoxFeatures(features[..MaskRCNN.PooledLevels], whole.ToArray(), sizes);
            var (l, d) = model.RoiHeads.ClassifyBoxes(pooled);
            logits.Add(l);
            deltas.Add(d);
            heads += laps.Lap();
        }
        long k = model.Config.NumClasses;
        var classLogits = count == 0 ? zeros(0, k) : cat(logits, 0);
        var boxRegression = count == 0 ? zeros(0, 4 * k) : cat(deltas, 0);
        var detections = Finish(model, classLogits, boxRegression, regions, size, original);
        other += laps.Lap();
        var seconds = new ComponentSeconds(classical.Seconds, warping, backbone, heads, 0, other);
        return new GenerationRun(Generation.Rcnn, detections, seconds, count);
    }

    /// <summary>One region of the normalised batch [1, 3, H, W] (box x1, y1, x2, y2 in its pixels), cropped to
    /// whole pixels and resized to warp × warp, ignoring its aspect ratio (R-CNN's "warp").</summary>
    static Tensor Warp(Tensor batch, ReadOnlySpan<float> box, int warp)
    {
        int x1 = (int)Math.Floor(box[0]),
            y1 = (int)Math.Floor(box[1]);
        int x2 = Math.Max(x1 + 1, (int)Math.Ceiling(box[2])),
            y2 = Math.Max(y1 + 1, (int)Math.Ceiling(box[3]));
        var crop = batch[.., .., y1..y2, x1..x2];
        return nn.functional.interpolate(crop, [warp, warp], mode: InterpolationMode.Bilinear, align_corners: false);
    }

    /// <summary>Fast and Faster R-CNN: one backbone pass, regions RoIPooled from the shared features (from the level
    /// of their size, or all from one level).</summary>
    static GenerationRun DetectPooled(
        MaskRCNN model,
        Tensor image,
        Generation generation,
        SelectiveSearch.Result? classical,
        bool oneLevel
    )
    {
        var laps = new Laps();
        var (list, _) = model.Preprocess([image]);
        var size = list.ImageSizes[0];
        var original = (image.shape[^2], image.shape[^1]);
        double other = laps.Lap();
        var features = model.Features(list.Tensors);
        double backbone = laps.Lap();
        Tensor regions;
        double proposals;
        if (generation == Generation.FastRcnn)
        {
            regions = BoxOps.ResizeBoxes(classical!.Boxes, original, size);
            proposals = classical.Seconds;
            other += laps.Lap();
        }
        else
        {
            regions = model.ProposeRegions(list, features).Proposals[0];
            proposals = laps.Lap();
        }
        var levels = features[..MaskRCNN.PooledLevels];
        var pooled = oneLevel
            ? SingleLevelRoIPool(model, levels, [regions], [size], model.RoiHeads.BoxRoiPool.OutputSize)
            : MultiScaleRoIPool(model, levels, [regions], [size], model.RoiHeads.BoxRoiPool.OutputSize);
        var (classLogits, boxRegression) = model.RoiHeads.ClassifyBoxes(pooled);
        double heads = laps.Lap();
        var detections = Finish(model, classLogits, boxRegression, regions, size, original);
        other += laps.Lap();
        var seconds = new ComponentSeconds(proposals, 0, backbone, heads, 0, other);
        return new GenerationRun(generation, detections, seconds, (int)regions.shape[0]);
    }

    /// <summary>Mask R-CNN: the model's own stages (what <see cref="MaskRCNN.Predict(Tensor)"/> runs), timed one by
    /// one.</summary>
    static GenerationRun DetectWithMasks(MaskRCNN model, Tensor image)
    {
        var laps = new Laps();
        var (list, _) = model.Preprocess([image]);
        var sizes = list.ImageSizes;
        double other = laps.Lap();
        var features = model.Features(list.Tensors);
        double backbone = laps.Lap();
        var proposals = model.ProposeRegions(list, features).Proposals;
        double proposing = laps.Lap();
        var levels = features[..MaskRCNN.PooledLevels];
        var boxes = model.RoiHeads.ClassifyBoxes(levels, proposals, sizes);
        double heads = laps.Lap();
        var found = model.RoiHeads.PostprocessDetections(boxes.ClassLogits, boxes.BoxRegression, proposals, sizes);
        other += laps.Lap();
        var withMasks = model.RoiHeads.PredictMasks(levels, found.Detections, sizes);
        double masks = laps.Lap();
        var detections = model.Postprocess(withMasks.Detections[0], sizes[0], (image.shape[^2], image.shape[^1]));
        other += laps.Lap();
        var seconds = new ComponentSeconds(proposing, 0, backbone, heads, masks, other);
        return new GenerationRun(Generation.MaskRcnn, detections, seconds, (int)proposals[0].shape[0]);
    }

    /// <summary>Class scores and box deltas of the regions → detections (decoding, score threshold, per-class NMS) in
    /// the original image's pixels, without masks.</summary>
    static Detections Finish(
        MaskRCNN model,
        Tensor classLogits,
        Tensor boxRegression,
        Tensor regions,
        (long H, long W) size,
        (long H, long W) original
    )
    {
        var found = model.RoiHeads.PostprocessDetections(classLogits, boxRegression, [regions], [size]).Detections[0];
        var boxes = BoxOps.ResizeBoxes(found.Boxes, size, original);
        return new Detections(boxes, found.Labels, found.Scores, null, null, original);
    }
}
