using MaskRcnn.Modeling;
using MaskRcnn.Visualization;
using SkiaSharp;
using TorchSharp;
using static TorchSharp.torch;

namespace MaskRcnn.Teaching;

/// <summary>
/// Mask R-CNN as a drawing: each stage of this model with the shapes of the tensors it really produced on an image,
/// for presenting the architecture (transform → backbone → FPN → RPN → RoI heads → masks).
/// </summary>
public static class ArchitectureDiagram
{
    /// <summary>One box of the diagram: a stage, what it does, and the shapes of its outputs.</summary>
    public sealed record Stage(string Name, string What, IReadOnlyList<string> Shapes);

    static string Shape(Tensor t) => "[" + string.Join(", ", t.shape) + "]";

    /// <summary>Runs the model on <paramref name="image"/> stage by stage and records what each produced.</summary>
    public static IReadOnlyList<Stage> Trace(MaskRCNN model, Tensor image)
    {
        using var gcPause = Runtime.GcPause.Enter();
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        bool wasTraining = model.training;
        model.eval();
        try
        {
            var c = model.Config;
            var stages = new List<Stage> { new("input", "an ultrasound image, RGB in [0, 1]", [Shape(image)]) };
            var (list, _) = model.Preprocess([image]);
            stages.Add(
                new(
                    "transform",
                    $"normalise, resize (short side {c.MinSize[0]}, long ≤ {c.MaxSize}), pad to ×32",
                    [$"batch {Shape(list.Tensors)}", $"image {list.ImageSizes[0].H}×{list.ImageSizes[0].W} inside it"]
                )
            );
            var body = model.Backbone.Body.call(list.Tensors);
            stages.Add(
                new(
                    "backbone",
                    $"{c.BackboneDepth}: C2…C5 at strides 4, 8, 16, 32",
                    body.Select((t, i) => $"C{i + 2} {Shape(t)}").ToList()
                )
            );
            var features = model.Features(list.Tensors);
            string[] levels = ["P2", "P3", "P4", "P5", "P6"];
            stages.Add(
                new(
                    "FPN",
                    $"top-down + lateral 1×1, 3×3 smoothing: {c.FpnOutChannels} channels per level",
                    features.Select((t, i) => $"{levels[i]} {Shape(t)}").ToList()
                )
            );
            var rpn = model.ProposeRegions(list, features);
            var anchors = features.Sum(f => f.shape[2] * f.shape[3]) * c.AspectRatios[0].Length;
            stages.Add(
                new(
                    "RPN",
                    $"3×3 conv, then per anchor an objectness logit and 4 box deltas; NMS {c.RpnNmsThresh}",
                    [
                        $"{anchors:N0} anchors ({c.AspectRatios[0].Length} per cell)",
                        $"proposals {Shape(rpn.Proposals[0])}",
                    ]
                )
            );
            var pooledLevels = features[..MaskRCNN.PooledLevels];
            var boxFeatures = model.RoiHeads.BoxRoiPool.Forward(pooledLevels, rpn.Proposals, list.ImageSizes);
            var represented = model.RoiHeads.BoxHead.call(boxFeatures);
            var (classLogits, boxRegression) = model.RoiHeads.BoxPredictor.call(represented);
            stages.Add(
                new(
                    "box head",
                    "RoIAlign 7×7 from each proposal's level, two fully connected layers",
                    [
                        $"pooled {Shape(boxFeatures)}",
                        $"features {Shape(represented)}",
                        $"class logits {Shape(classLogits)}",
                        $"box deltas {Shape(boxRegression)}",
                    ]
                )
            );
            var heads = model.RoiHeads.Forward(pooledLevels, rpn.Proposals, list.ImageSizes);
            var detections = heads.Detections[0];
            stages.Add(
                new(
                    "detections",
                    $"softmax, per-class box decoding, score ≥ {c.BoxScoreThresh}, per-class NMS {c.BoxNmsThresh}",
                    [
                        $"boxes {Shape(detections.Boxes)}",
                        $"labels {Shape(detections.Labels)}",
                        $"scores {Shape(detections.Scores)}",
                    ]
                )
            );
            if (model.RoiHeads.HasMask)
            {
                var maskFeatures = model.RoiHeads.MaskRoiPool.Forward(
                    pooledLevels,
                    [detections.Boxes],
                    list.ImageSizes
                );
                var maskHidden = model.RoiHeads.MaskHead!.call(maskFeatures);
                var maskLogits = model.RoiHeads.MaskPredictor!.call(maskHidden);
                stages.Add(
                    new(
                        "mask head",
                        "RoIAlign 14×14 of each detection, four 3×3 convs, a 2× deconvolution, one logit map per class",
                        [
                            $"pooled {Shape(maskFeatures)}",
                            $"features {Shape(maskHidden)}",
                            $"mask logits {Shape(maskLogits)}",
                        ]
                    )
                );
                using var final = model.Predict(image);
                stages.Add(
                    new(
                        "masks",
                        "the own class's sigmoid, pasted into the image and thresholded at 0.5",
                        [$"masks {Shape(final.Masks!)}"]
                    )
                );
            }
            return stages;
        }
        finally
        {
            if (wasTraining)
                model.train();
        }
    }

    /// <summary>The stages as a top-to-bottom diagram: one box per stage with its shapes, arrows between
    /// them.</summary>
    public static Figure Draw(IReadOnlyList<Stage> stages, string caption = "")
    {
        const int width = 760,
            boxWidth = 700,
            left = 30,
            lineHeight = 17,
            gap = 26,
            titleHeight = 22;
        var heights = stages.Select(s => titleHeight + lineHeight * s.Shapes.Count + 12).ToList();
        int height = heights.Sum() + gap * (stages.Count - 1) + 20;
        using var bmp = new SKBitmap(width, height);
        using (var canvas = new SKCanvas(bmp))
        {
            canvas.Clear(SKColors.White);
            using var typeface = SKTypeface.FromFamilyName("DejaVu Sans");
            using var bold = SKTypeface.FromFamilyName("DejaVu Sans", SKFontStyle.Bold);
            using var mono = SKTypeface.FromFamilyName("DejaVu Sans Mono");
            using var titleFont = new SKFont(bold, 14);
            using var textFont = new SKFont(typeface, 12);
            using var shapeFont = new SKFont(mono, 12);
            using var ink = new SKPaint { Color = SKColors.Black, IsAntialias = true };
            using var grey = new SKPaint { Color = new SKColor(80, 80, 80), IsAntialias = true };
            using var fill = new SKPaint { Color = new SKColor(235, 242, 252), IsAntialias = true };
            using var edge = new SKPaint
            {
                Color = new SKColor(70, 110, 170),
                IsStroke = true,
                StrokeWidth = 1.5f,
                IsAntialias = true,
            };
            using var arrow = new SKPaint
            {
                Color = new SKColor(70, 110, 170),
                StrokeWidth = 2,
                IsAntialias = true,
                IsStroke = true,
            };
            float y = 10;
            for (int i = 0; i < stages.Count; i++)
            {
                var s = stages[i];
                var rect = new SKRect(left, y, left + boxWidth, y + heights[i]);
                canvas.DrawRoundRect(rect, 8, 8, fill);
                canvas.DrawRoundRect(rect, 8, 8, edge);
                canvas.DrawText(s.Name, left + 10, y + 17, titleFont, ink);
                canvas.DrawText(s.What, left + 10 + titleFont.MeasureText(s.Name) + 12, y + 17, textFont, grey);
                for (int k = 0; k < s.Shapes.Count; k++)
                    canvas.DrawText(s.Shapes[k], left + 24, y + titleHeight + lineHeight * (k + 1) - 2, shapeFont, ink);
                y += heights[i];
                if (i + 1 < stages.Count)
                {
                    float x = left + boxWidth / 2f;
                    canvas.DrawLine(x, y + 2, x, y + gap - 4, arrow);
                    using var head = new SKPath();
                    head.MoveTo(x - 6, y + gap - 10);
                    head.LineTo(x, y + gap - 3);
                    head.LineTo(x + 6, y + gap - 10);
                    canvas.DrawPath(head, arrow);
                    y += gap;
                }
            }
        }
        return Figure.FromBitmap(bmp, caption);
    }
}
