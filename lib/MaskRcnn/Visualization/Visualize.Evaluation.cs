using MaskRcnn.Data;
using MaskRcnn.Evaluation;
using MaskRcnn.Modeling;
using MaskRcnn.Teaching;

namespace MaskRcnn.Visualization;

/// <summary>Evaluation figures: predictions against the truth, precision–recall, the threshold, errors.</summary>
public static partial class Visualize
{
    /// <summary>
    /// Ground truth (dashed yellow outline) against the model's detections scoring at least
    /// <paramref name="minScore"/> (masks, boxes, class and score) on several images; with
    /// <paramref name="belowThreshold"/> the detections under it too, dotted, so that a lesion found with a low
    /// score does not look like a miss.
    /// </summary>
    public static Figure Predictions(
        MaskRCNN model,
        Dataset data,
        IEnumerable<int> indices,
        double minScore,
        int columns = 3,
        bool belowThreshold = false,
        Func<int, string>? caption = null
    )
    {
        var panels = new List<Figure>();
        var classes = model.Config.ClassNames;
        foreach (int i in indices)
        {
            using var s = data.Load(i);
            using var d = model.Predict(s.Image);
            string name = caption?.Invoke(i) ?? Path.GetFileNameWithoutExtension(s.Source.FileName);
            panels.Add(
                Draw.Compare(
                    s.Image,
                    s.Boxes,
                    s.Labels,
                    s.Masks,
                    d,
                    classes,
                    minScore,
                    name,
                    columns <= 2 ? 2 : 1, // two columns fill the page's width at twice the size
                    belowThreshold: belowThreshold
                )
            );
        }
        var legend = Draw.ClassLegend(classes, groundTruth: true).ToList();
        string below = belowThreshold ? " (solid) and below it (dotted)" : "";
        if (belowThreshold)
            legend.Add(new LegendEntry($"dotted: detection scored below {minScore:0.##}", SkiaSharp.SKColors.Gray));
        return Draw.WithLegend(
            Draw.Grid(panels, columns, $"ground truth (yellow, dashed) vs detections ≥ {minScore:0.##}{below}"),
            legend
        );
    }

    /// <summary>
    /// Mask precision–recall per class, one panel per IoU threshold (0.5, then stricter): how precision falls as the
    /// confidence threshold is lowered to find more lesions.
    /// </summary>
    public static ChartHtml PrecisionRecall(
        EvaluationReport report,
        IReadOnlyList<string> classes,
        params double[] ious
    )
    {
        var metrics = report.SegmMetrics ?? report.BboxMetrics!;
        string kind = report.SegmMetrics is null ? "Box" : "Mask";
        var specs = (ious.Length == 0 ? [0.5] : ious)
            .Select(iou =>
                ChartSpec.Lines(
                    $"{kind} precision–recall at IoU {iou}",
                    "recall (share of lesions found)",
                    "precision (share of detections correct)",
                    classes
                        .Select(
                            (c, k) =>
                            {
                                var (r, p) = metrics.PrCurve(k, iou);
                                return new ChartSeries(c, X: r, Y: p, Color: Hex(c));
                            }
                        )
                        .ToArray()
                ) with
                {
                    YRange = [0, 1.05],
                    Width = ious.Length > 1 ? 470 : 720,
                    Height = 360,
                }
            )
            .ToArray();
        return Charts.Row(specs);
    }

    /// <summary>The Dice of every lesion found at the evaluation's threshold.</summary>
    public static ChartHtml DiceHistogram(TestEvaluation evaluation) =>
        Charts.Render(
            ChartSpec.Histogram(
                $"Dice of the lesions found at {evaluation.Threshold}",
                "Dice (2 |A ∩ B| / (|A| + |B|))",
                "lesions",
                new ChartSeries("lesions", X: evaluation.Report.Clinical?.DiceValues.ToArray() ?? [])
            )
        );

    /// <summary>Sensitivity, false positives per image and image accuracy against the confidence threshold, the
    /// evaluation's own marked.</summary>
    public static ChartHtml ThresholdEffect(TestEvaluation evaluation, IReadOnlyList<ClinicalMetrics> sweep)
    {
        var t = sweep.Select(s => s.ScoreThreshold).ToArray();
        return Charts.Render(
            ChartSpec.Lines(
                "Effect of the confidence threshold",
                "confidence threshold",
                "value (fraction; false positives per image)",
                new ChartSeries("sensitivity", X: t, Y: sweep.Select(s => s.Sensitivity ?? double.NaN).ToArray()),
                new ChartSeries(
                    "false positives / image",
                    X: t,
                    Y: sweep.Select(s => s.FpPerImage ?? double.NaN).ToArray()
                ),
                // Dashed: image accuracy often equals the sensitivity over a range of thresholds, and would hide it.
                new ChartSeries(
                    "image accuracy",
                    X: t,
                    Y: sweep.Select(s => s.ImageAccuracy ?? double.NaN).ToArray(),
                    Dash: true
                )
            ) with
            {
                XMarks = [new ChartMark(evaluation.Threshold, $"{evaluation.Threshold}")],
            }
        );
    }

    /// <summary>Sensitivity against false positives per image over the thresholds (FROC-style).</summary>
    public static ChartHtml Froc(IReadOnlyList<ClinicalMetrics> sweep) =>
        Charts.Render(
            ChartSpec.Lines(
                "Sensitivity vs false positives per image (FROC-style)",
                "false positives per image",
                "sensitivity (share of lesions found)",
                new ChartSeries(
                    "operating points (thresholds 0.05 … 0.95)",
                    X: sweep.Select(s => s.FpPerImage ?? double.NaN).ToArray(),
                    Y: sweep.Select(s => s.Sensitivity ?? double.NaN).ToArray()
                )
            )
        );

    /// <summary>The image-level confusion matrix (normal / benign / malignant) at the evaluation's threshold.</summary>
    public static ChartHtml Confusion(TestEvaluation evaluation)
    {
        var names = evaluation.ImageClasses.ToArray();
        var confusion = evaluation.Report.Confusion;
        return Charts.Render(
            ChartSpec.Heatmap(
                $"Image classes at {evaluation.Threshold}",
                "predicted class",
                "true class",
                names,
                names,
                names.Select(r => names.Select(c => (double)confusion[r][c]).ToArray()).ToArray(),
                "images"
            )
        );
    }

    /// <summary>
    /// The images with an error at the evaluation's threshold (a missed lesion, a false alarm or a wrong image
    /// class): the truth, the detections kept, and those scored below the threshold dotted — so "missed" and "found
    /// below the threshold" look different. Each caption names only the errors its image has.
    /// </summary>
    public static Figure Errors(TestEvaluation evaluation, int shown, int columns = 2)
    {
        var errors = evaluation.Errors().Take(shown).ToList();
        if (errors.Count == 0)
            return Draw.Grid([], 1, $"no errors at {evaluation.Threshold} on these images");
        var captions = errors.ToDictionary(
            e => e.Index,
            e =>
                Path.GetFileNameWithoutExtension(evaluation.Data.Images[e.Index].FileName)
                + ": "
                + string.Join(
                    ", ",
                    new[]
                    {
                        e.Missed > 0 ? $"{e.Missed} missed" : null,
                        e.FalseAlarms > 0 ? $"{e.FalseAlarms} false alarm(s)" : null,
                        e.WrongClass ? "wrong image class" : null,
                    }.OfType<string>()
                )
        );
        return Predictions(
            evaluation.Model,
            evaluation.Data,
            errors.Select(e => e.Index),
            evaluation.Threshold,
            columns,
            belowThreshold: true,
            caption: i => captions[i]
        );
    }
}
