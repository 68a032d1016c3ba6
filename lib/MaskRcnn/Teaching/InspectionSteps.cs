using MaskRcnn.Data;
using MaskRcnn.Modeling;
using MaskRcnn.Modeling.Ops;
using MaskRcnn.Modeling.RoiHeads;
using MaskRcnn.Visualization;
using SkiaSharp;
using TorchSharp;
using static TorchSharp.torch;

namespace MaskRcnn.Teaching;

/// <summary>
/// The inspection steps of matterport's inspect_data / inspect_model notebooks that are measurements rather than
/// pictures of one stage: recall of boxes against the ground truth, mask overlaps between truth and prediction, the
/// positive share of sampled RoIs over many images, and resizing/padding drawn.
/// </summary>
public static class InspectionSteps
{
    /// <summary>
    /// matterport's compute_recall: the share of ground-truth boxes that some box overlaps with IoU ≥
    /// <paramref name="iou"/>, and how many boxes reach that IoU with some ground truth.
    /// </summary>
    public static (double Recall, long MatchingBoxes) Recall(Tensor boxes, Tensor gtBoxes, double iou)
    {
        using var scope = NewDisposeScope();
        if (gtBoxes.shape[0] == 0)
            return (double.NaN, 0);
        if (boxes.shape[0] == 0)
            return (0, 0);
        var overlaps = BoxOps.BoxIou(boxes, gtBoxes); // [N, G]
        double recall = overlaps.amax(0).ge(iou).to(float32).mean().item<float>();
        long matching = overlaps.amax(1).ge(iou).sum().item<long>();
        return (recall, matching);
    }

    /// <summary>Mask IoU of every pair: [N, H, W] and [M, H, W] masks (any dtype, non-zero = inside) → [N,
    /// M].</summary>
    public static Tensor MaskOverlaps(Tensor masks1, Tensor masks2)
    {
        using var scope = NewDisposeScope();
        var a = masks1.ne(0).to(float32).flatten(1);
        var b = masks2.ne(0).to(float32).flatten(1);
        var intersection = a.matmul(b.t());
        var union = a.sum(1).unsqueeze(1) + b.sum(1).unsqueeze(0) - intersection;
        return (intersection / union.clamp_min(1)).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// matterport's plot_overlaps as a chart: the mask IoU of each ground-truth lesion (rows) with each detection
    /// (columns, best first, at most <paramref name="maxDetections"/>, with class and score), value written in every
    /// cell.
    /// </summary>
    public static ChartSpec OverlapChart(
        Tensor gtMasks,
        Tensor gtLabels,
        Detections detections,
        IReadOnlyList<string> classNames,
        double minScore = 0.05,
        int maxDetections = 8,
        string title = "Mask IoU: ground truth × detections"
    )
    {
        using var scope = NewDisposeScope();
        var (_, labels, scores) = detections.ToArrays();
        var keep = Enumerable.Range(0, labels.Length).Where(i => scores[i] >= minScore).Take(maxDetections).ToArray();
        var rows = gtLabels.ToLongArray().Select((l, i) => $"truth {i + 1}: {classNames[(int)l]}").ToArray();
        // Numbered, so that two detections of the same class and score stay two columns.
        var columns = keep.Select((i, n) => $"{n + 1}: {classNames[(int)labels[i]]} {scores[i]:F2}").ToArray();
        double[][] values;
        if (keep.Length == 0 || rows.Length == 0)
            values = rows.Select(_ => new double[columns.Length]).ToArray();
        else
        {
            var iou = MaskOverlaps(gtMasks, detections.Masks![tensor(keep.Select(i => (long)i).ToArray())]);
            var flat = iou.to(float64).data<double>().ToArray();
            values = Enumerable
                .Range(0, rows.Length)
                .Select(r =>
                    Enumerable
                        .Range(0, columns.Length)
                        .Select(c => Math.Round(flat[r * columns.Length + c], 2))
                        .ToArray()
                )
                .ToArray();
        }
        if (columns.Length == 0)
        {
            columns = ["(no detection)"];
            values = rows.Select(_ => new[] { 0.0 }).ToArray();
        }
        if (rows.Length == 0)
        {
            rows = ["(no lesion)"];
            values = [new double[columns.Length]];
        }
        return ChartSpec.Heatmap(
            title,
            "detection (class, score)",
            "ground truth",
            columns,
            rows,
            values,
            "mask IoU"
        ) with
        {
            Width = Math.Max(520, 140 + 110 * columns.Length),
            Height = Math.Max(300, 160 + 70 * rows.Length),
        };
    }

    /// <summary>
    /// The positive anchors of an inspected image (with ground truth) when the RPN's foreground IoU threshold is
    /// <paramref name="fgIou"/> (the background threshold lowered to it if needed).
    /// </summary>
    public static long PositiveAnchors(MaskRCNN model, InspectionResult inspection, double fgIou)
    {
        using var scope = NewDisposeScope();
        var config = model.Config with
        {
            RpnFgIouThresh = fgIou,
            RpnBgIouThresh = Math.Min(model.Config.RpnBgIouThresh, fgIou),
        };
        using var copy = new MaskRCNN(config);
        var truth = inspection.GroundTruth?.Boxes ?? throw new MaskRcnnException("needs ground truth");
        return copy.Rpn.AssignTargetsToAnchors(inspection.Anchors, [truth]).Labels[0].eq(1).sum().item<long>();
    }

    /// <summary>The RoI heads' regression target dx of a square proposal <paramref name="width"/> px wide whose
    /// centre lies <paramref name="shift"/> px left of its lesion's (same size), by the model's own box coder.</summary>
    public static double RoiTargetDx(MaskRCNN model, double width, double shift)
    {
        using var scope = NewDisposeScope();
        var proposal = tensor(new float[] { 100, 100, (float)(100 + width), (float)(100 + width) }).view(1, 4);
        var lesion = proposal + tensor(new float[] { (float)shift, 0, (float)shift, 0 });
        return model.RoiHeads.BoxCoder.Encode(lesion, proposal)[0, 0].item<float>();
    }

    /// <summary>The FPN level (2 = P2 …) torchvision's level rule pools a <paramref name="width"/> ×
    /// <paramref name="height"/> RoI from, over the levels the RoI heads pool (P2–P5).</summary>
    public static int LevelOf(double width, double height)
    {
        using var scope = NewDisposeScope();
        var box = tensor(new float[] { 0, 0, (float)width, (float)height }).view(1, 4);
        return (int)new LevelMapper(2, 5).Map(box)[0].item<long>() + 2;
    }

    /// <summary>Positive (lesion) share of the RoIs the second stage samples for training, one value per
    /// image.</summary>
    public static double[] PositiveRoiShares(MaskRCNN model, Dataset dataset, int images)
    {
        var shares = new List<double>();
        for (int i = 0; i < Math.Min(images, dataset.Count); i++)
        {
            using var scope = NewDisposeScope();
            using var sample = dataset.Load(i);
            using var inspection = Inspector.Inspect(
                model,
                sample.Image,
                new TargetTensors(sample.Boxes, sample.Labels, sample.Masks)
            );
            var labels = inspection.SampledRoiLabels!;
            shares.Add(labels.gt(0).to(float32).mean().item<float>());
        }
        return shares.ToArray();
    }

    /// <summary>
    /// Resizing and padding drawn: the original image, the resized image, and the padded batch the backbone sees
    /// (padding tinted), each with its size.
    /// </summary>
    public static Figure ResizeAndPad(MaskRCNN model, Tensor image, int scale = 1)
    {
        using var scope = NewDisposeScope();
        var (list, _) = model.Preprocess([image]);
        var (h, w) = list.ImageSizes[0];
        var padded = list.Tensors[0];
        var c = model.Config;
        var restored = (
            padded * tensor(c.ImageStd.Select(v => (float)v).ToArray()).view(3, 1, 1)
            + tensor(c.ImageMean.Select(v => (float)v).ToArray()).view(3, 1, 1)
        ).clamp(0, 1);
        var resized = restored[.., ..(int)h, ..(int)w];
        using var paddedBitmap = Draw.Bitmap(restored);
        using (var canvas = new SKCanvas(paddedBitmap))
        {
            using var tint = new SKPaint { Color = new SKColor(255, 120, 0, 110) };
            if (padded.shape[2] > w)
                canvas.DrawRect(new SKRect(w, 0, padded.shape[2], padded.shape[1]), tint);
            if (padded.shape[1] > h)
                canvas.DrawRect(new SKRect(0, h, w, padded.shape[1]), tint);
        }
        var paddedFigure = Figure.FromBitmap(
            paddedBitmap,
            $"padded batch {padded.shape[2]}×{padded.shape[1]} (orange: padding)"
        );
        return Draw.Grid(
            [
                Draw.Image(image, $"original {image.shape[^1]}×{image.shape[^2]} (w×h)", scale),
                Draw.Image(resized, $"resized {w}×{h}", scale),
                Draw.Scale(paddedFigure, scale),
            ],
            columns: 3,
            caption: $"short side → {c.MinSize[0]} (long side ≤ {c.MaxSize}), then padded to a multiple of 32"
        );
    }
}
