using System.Diagnostics;
using MaskRcnn.Modeling;
using MaskRcnn.Modeling.Ops;
using MaskRcnn.Modeling.RoiHeads;
using TorchSharp;
using static TorchSharp.torch;

namespace MaskRcnn.Teaching;

/// <summary>
/// The R-CNN family, runnable on one image, for teaching: how each generation gets regions and features.
/// <list type="bullet">
/// <item>R-CNN (2014): a classical proposal method, then one CNN pass per warped region.</item>
/// <item>Fast R-CNN (2015): one CNN pass over the image, regions pooled from the shared features (RoIPool).</item>
/// <item>Faster R-CNN (2015): the proposals come from a Region Proposal Network on the same features.</item>
/// <item>Mask R-CNN (2017): RoIAlign instead of RoIPool, plus a mask head.</item>
/// </list>
/// </summary>
public static class RcnnFamily
{
    /// <summary>
    /// Classical, learning-free region proposals for ultrasound (a stand-in for selective search): dark blobs
    /// found by thresholding a smoothed image at several levels, as connected components' bounding boxes.
    /// </summary>
    /// <param name="image">[3, H, W] or [H, W] in [0, 1]</param>
    /// <returns>[N, 4] boxes, at most <paramref name="max"/>, larger first</returns>
    public static Tensor ClassicalProposals(Tensor image, int max = 200, int minArea = 30)
    {
        using var scope = NewDisposeScope();
        var gray = (image.dim() == 3 ? image.mean([0]) : image).detach().cpu().to(float32);
        var smooth = nn.functional.avg_pool2d(gray.unsqueeze(0).unsqueeze(0), 9, 1, 4)[0, 0];
        int h = (int)gray.shape[0],
            w = (int)gray.shape[1];
        var boxes = new List<(float X1, float Y1, float X2, float Y2, int Area)>();
        var sortedValues = smooth.flatten().sort().Values;
        foreach (var q in new[] { 0.08, 0.15, 0.25, 0.35 })
        {
            float level = sortedValues[(long)(q * (sortedValues.shape[0] - 1))].item<float>();
            var mask = smooth.lt(level).to(ScalarType.Byte).contiguous().data<byte>().ToArray();
            var (labels, sizes) = Data.Contours.Components(mask, w, h);
            for (int id = 1; id <= sizes.Count; id++)
            {
                if (sizes[id - 1] < minArea)
                    continue;
                int x1 = w,
                    y1 = h,
                    x2 = 0,
                    y2 = 0;
                for (int p = 0; p < labels.Length; p++)
                {
                    if (labels[p] != id)
                        continue;
                    int r = p / w,
                        c = p % w;
                    x1 = Math.Min(x1, c);
                    x2 = Math.Max(x2, c + 1);
                    y1 = Math.Min(y1, r);
                    y2 = Math.Max(y2, r + 1);
                }
                if ((x2 - x1) * (y2 - y1) < w * h / 2)
                    boxes.Add((x1, y1, x2, y2, sizes[id - 1]));
            }
        }
        var chosen = boxes.OrderByDescending(b => b.Area).Take(max).ToList();
        if (chosen.Count == 0)
            return zeros(0, 4).MoveToOuterDisposeScope();
        return tensor(chosen.SelectMany(b => new[] { b.X1, b.Y1, b.X2, b.Y2 }).ToArray())
            .view(-1, 4)
            .MoveToOuterDisposeScope();
    }

    /// <summary>The RPN's proposals for one image, best first, in the image's own pixels.</summary>
    public static Tensor RpnProposals(MaskRCNN model, Tensor image)
    {
        using var gcPause = GcPause();
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var (list, _) = model.Preprocess([image]);
        var proposals = model.ProposeRegions(list, model.Features(list.Tensors)).Proposals[0];
        return BoxOps
            .ResizeBoxes(proposals, list.ImageSizes[0], (image.shape[^2], image.shape[^1]))
            .MoveToOuterDisposeScope();
    }

    static Runtime.GcPause.Scope GcPause() => Runtime.GcPause.Enter();

    /// <summary>The four generations, each rebuilt from this model's trained layers.</summary>
    public enum Generation
    {
        Rcnn,
        FastRcnn,
        FasterRcnn,
        MaskRcnn,
    }

    /// <summary>A display name with the paper's year.</summary>
    public static string Name(Generation g) =>
        g switch
        {
            Generation.Rcnn => "R-CNN (2014)",
            Generation.FastRcnn => "Fast R-CNN (2015)",
            Generation.FasterRcnn => "Faster R-CNN (2015)",
            _ => "Mask R-CNN (2017)",
        };

    /// <summary>One generation's detections on one image (original pixels; masks only for Mask R-CNN) and its
    /// time.</summary>
    public sealed record GenerationRun(Generation Generation, Detections Detections, double Seconds, int Regions);

    /// <summary>
    /// Detects on one image the way <paramref name="generation"/> did, with this model's trained layers (so only
    /// the pipeline differs, not the training):
    /// <list type="bullet">
    /// <item>R-CNN: classical proposals; each region cropped, warped to <paramref name="warp"/> px (a multiple of 32,
    /// as every input of the backbone must be) and sent through the backbone on its own, then the box head classifies
    /// it and regresses its box. The default, 64 px, keeps a typical lesion (30–100 px) near the scale at which this
    /// model's heads learnt it; warped to 128 px, the walkthrough's model scores no lesion region above 0.01.</item>
    /// <item>Fast R-CNN: classical proposals; one backbone pass; each region max-pooled from the shared features with
    /// RoIPool (its box rounded to the feature grid); the same box head.</item>
    /// <item>Faster R-CNN: the RPN's proposals instead of classical ones; still RoIPool.</item>
    /// <item>Mask R-CNN: the whole model: RoIAlign and the mask head.</item>
    /// </list>
    /// </summary>
    public static GenerationRun Detect(
        MaskRCNN model,
        Tensor image,
        Generation generation,
        int maxProposals = 150,
        int warp = 64
    )
    {
        using var gcPause = GcPause();
        using var noGrad = no_grad();
        var sw = Stopwatch.StartNew();
        if (generation == Generation.MaskRcnn)
        {
            var full = model.Predict(image);
            return new GenerationRun(generation, full, sw.Elapsed.TotalSeconds, (int)model.Config.RpnPostNmsTopNTest);
        }
        using var scope = NewDisposeScope();
        var (list, _) = model.Preprocess([image]);
        var size = list.ImageSizes[0];
        var original = (image.shape[^2], image.shape[^1]);
        Tensor regions; // resized frame
        Tensor classLogits,
            boxRegression;
        if (generation == Generation.Rcnn)
        {
            regions = BoxOps.ResizeBoxes(ClassicalProposals(image, maxProposals), original, size);
            (classLogits, boxRegression) = ClassifyWarpedRegions(model, list.Tensors, regions, warp);
        }
        else
        {
            var features = model.Features(list.Tensors);
            regions =
                generation == Generation.FastRcnn
                    ? BoxOps.ResizeBoxes(ClassicalProposals(image, maxProposals), original, size)
                    : model.ProposeRegions(list, features).Proposals[0];
            var pooled = MultiScaleRoIPool(
                model,
                features[..MaskRCNN.PooledLevels],
                [regions],
                [size],
                model.RoiHeads.BoxRoiPool.OutputSize
            );
            (classLogits, boxRegression) = model.RoiHeads.ClassifyBoxes(pooled);
        }
        var found = model.RoiHeads.PostprocessDetections(classLogits, boxRegression, [regions], [size]).Detections[0];
        var boxes = BoxOps.ResizeBoxes(found.Boxes, size, original);
        var result = new Detections(boxes, found.Labels, found.Scores, null, null, original).MoveToOuterDisposeScope();
        return new GenerationRun(generation, result, sw.Elapsed.TotalSeconds, (int)regions.shape[0]);
    }

    /// <summary>R-CNN's per-region pass: crop, warp, backbone + FPN on the crop alone, pool the whole crop, box
    /// head.</summary>
    static (Tensor ClassLogits, Tensor BoxRegression) ClassifyWarpedRegions(
        MaskRCNN model,
        Tensor batch,
        Tensor regions,
        int warp
    )
    {
        var logits = new List<Tensor>();
        var deltas = new List<Tensor>();
        var b = regions.ToFloatArray();
        var whole = tensor(new float[] { 0, 0, warp, warp }).view(1, 4);
        for (int i = 0; i < b.Length / 4; i++)
        {
            int x1 = (int)Math.Floor(b[i * 4]),
                y1 = (int)Math.Floor(b[i * 4 + 1]);
            int x2 = Math.Max(x1 + 1, (int)Math.Ceiling(b[i * 4 + 2])),
                y2 = Math.Max(y1 + 1, (int)Math.Ceiling(b[i * 4 + 3]));
            var crop = batch[.., .., y1..y2, x1..x2];
            var warped = nn.functional.interpolate(
                crop,
                size: [warp, warp],
                mode: InterpolationMode.Bilinear,
                align_corners: false
            );
            var features = model.Features(warped); // one CNN per region: the cost R-CNN paid
            var pooled = model.RoiHeads.PoolBoxFeatures(features[..MaskRCNN.PooledLevels], [whole], [(warp, warp)]);
            var (l, d) = model.RoiHeads.ClassifyBoxes(pooled);
            logits.Add(l);
            deltas.Add(d);
        }
        if (logits.Count == 0)
        {
            long k = model.Config.NumClasses;
            return (zeros(0, k), zeros(0, 4 * k));
        }
        return (cat(logits, 0), cat(deltas, 0));
    }

    /// <summary>
    /// RoIPool from the FPN level each box's size maps to (the level rule of <see cref="MultiScaleRoIAlign"/>): what
    /// Fast and Faster R-CNN would feed this model's box or mask head.
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
            result.index_copy_(
                0,
                idx,
                RoIPool.Apply(features[level], rois.index_select(0, idx), (outputSize, outputSize), scales[level])
            );
        }
        return result.MoveToOuterDisposeScope();
    }

    /// <summary>How one generation did on a set of images.</summary>
    /// <param name="MaskAP50">null for the generations without masks</param>
    public sealed record GenerationScore(
        Generation Generation,
        string Name,
        double BoxAP50,
        double? MaskAP50,
        double SecondsPerImage,
        double RegionsPerImage
    );

    /// <summary>
    /// Every generation on the first <paramref name="images"/> images of <paramref name="dataset"/>: COCO box AP50 (and
    /// mask AP50 for Mask R-CNN) and the time per image, all with this model's trained layers.
    /// </summary>
    public static IReadOnlyList<GenerationScore> Compare(MaskRCNN model, Data.Dataset dataset, int images)
    {
        var subset = dataset.Take(images);
        var gts = Evaluation.DatasetEvaluation.GroundTruth(subset);
        var ids = Enumerable.Range(1, subset.Count).Select(i => (long)i).ToList();
        var scores = new List<GenerationScore>();
        foreach (var generation in Enum.GetValues<Generation>())
        {
            var dts = new List<Evaluation.DtObject>();
            double seconds = 0,
                regions = 0;
            for (int i = 0; i < subset.Count; i++)
            {
                using var scope = NewDisposeScope();
                var image = Data.ImageIO.ReadTensor(subset.Images[i].Path);
                var run = Detect(model, image, generation);
                using var detections = run.Detections;
                seconds += run.Seconds;
                regions += run.Regions;
                dts.AddRange(Evaluation.DatasetEvaluation.ToObjects(detections, i + 1));
            }
            var report = Evaluation.DatasetEvaluation.Report(
                gts,
                dts,
                ids,
                subset.Classes,
                model.Config.Training.ClinicalScoreThreshold
            );
            scores.Add(
                new GenerationScore(
                    generation,
                    Name(generation),
                    report.Bbox.AP50,
                    generation == Generation.MaskRcnn ? report.Segm?.AP50 : null, // only Mask R-CNN has masks
                    seconds / subset.Count,
                    regions / subset.Count
                )
            );
        }
        return scores;
    }

    /// <summary>Mean Dice of the masks of the same detections, pooled both ways.</summary>
    public sealed record PoolingMaskQuality(double RoIAlignDice, double RoIPoolDice, int Lesions);

    /// <summary>
    /// RoIPool against RoIAlign judged by what RoIAlign was invented for, mask quality: for each detection of the full
    /// model (score ≥ 0.5) that overlaps a lesion, the mask head runs on features pooled both ways from the same box,
    /// and each pasted mask's Dice with the lesion is averaged over the first <paramref name="images"/> images.
    /// </summary>
    public static PoolingMaskQuality CompareMaskPooling(MaskRCNN model, Data.Dataset dataset, int images)
    {
        using var gcPause = GcPause();
        using var noGrad = no_grad();
        double alignSum = 0,
            poolSum = 0;
        int count = 0;
        var subset = dataset.Take(images);
        for (int i = 0; i < subset.Count; i++)
        {
            using var scope = NewDisposeScope();
            using var sample = subset.Load(i);
            if (sample.Boxes.shape[0] == 0)
                continue;
            var (list, _) = model.Preprocess([sample.Image]);
            var size = list.ImageSizes[0];
            var original = (sample.Image.shape[^2], sample.Image.shape[^1]);
            var allLevels = model.Features(list.Tensors);
            var features = allLevels[..MaskRCNN.PooledLevels];
            var heads = model.RoiHeads.Forward(
                features,
                model.ProposeRegions(list, allLevels).Proposals,
                list.ImageSizes
            );
            var d = heads.Detections[0];
            var keep = nonzero(d.Scores.ge(0.5)).view(-1);
            if (keep.shape[0] == 0)
                continue;
            var boxes = d.Boxes[keep];
            var labels = d.Labels[keep];
            var aligned = model.RoiHeads.MaskLogits(features, [boxes], [size]);
            var pooledFeatures = MultiScaleRoIPool(
                model,
                features,
                [boxes],
                [size],
                model.RoiHeads.MaskRoiPool.OutputSize
            );
            var pooled = model.RoiHeads.MaskLogits(pooledFeatures);
            var originalBoxes = BoxOps.ResizeBoxes(boxes, size, original);
            // Each detection is judged against the lesion its box overlaps most (IoU ≥ 0.5), the same for both
            // poolings.
            var (bestIou, lesion) = BoxOps.BoxIou(originalBoxes, sample.Boxes).max(1);
            var matched = nonzero(bestIou.ge(0.5)).view(-1);
            if (matched.shape[0] == 0)
                continue;
            var truth = sample.Masks.to(float32)[lesion[matched]].flatten(1); // [M, H·W]
            double Dice(Tensor logits)
            {
                var probs = RoIHeads.MaskInference(logits, [labels])[0];
                var masks = MaskOps
                    .PasteMasksInImage(probs, originalBoxes, original)
                    .select(1, 0)
                    .gt(model.Config.MaskThreshold);
                var predicted = masks.to(float32)[matched].flatten(1); // [M, H·W]
                var dice = 2 * (predicted * truth).sum(1) / (predicted.sum(1) + truth.sum(1)).clamp_min(1);
                return dice.sum().item<float>();
            }
            alignSum += Dice(aligned);
            poolSum += Dice(pooled);
            count += (int)matched.shape[0];
        }
        return count == 0
            ? new PoolingMaskQuality(double.NaN, double.NaN, 0)
            : new PoolingMaskQuality(alignSum / count, poolSum / count, count);
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
