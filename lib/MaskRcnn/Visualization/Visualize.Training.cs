using MaskRcnn.Training;

namespace MaskRcnn.Visualization;

/// <summary>Training curves from a run's metrics.jsonl (<see cref="TrainingMetrics"/>).</summary>
public static partial class Visualize
{
    /// <summary>
    /// Each loss and their total against the iteration, on a log scale, as the mean of the steps between logged rows
    /// (one step's loss swings with its two images, down to 0 on a batch of normal scans); dashed lines mark the
    /// stage changes.
    /// </summary>
    public static ChartHtml LossCurves(TrainingMetrics metrics, string title = "Training losses")
    {
        var rows = metrics.Train;
        double[] x = rows.Select(r => (double)r.Iteration).ToArray();
        var series = metrics
            .LossNames.Select(n => new ChartSeries(
                n.Replace("loss_", ""),
                X: x,
                Y: rows.Select(r => (r.MeanLosses ?? r.Losses).GetValueOrDefault(n, double.NaN)).ToArray()
            ))
            .Append(new ChartSeries("total", X: x, Y: rows.Select(r => r.MeanLoss ?? r.Loss).ToArray()))
            .ToArray();
        var marks = metrics.StageStarts.Select(s => new ChartMark(s.Iteration, s.Stage)).ToList();
        return Charts.Render(
            ChartSpec.Lines($"{title} (mean over each logging window)", "iteration (batches)", "loss", series) with
            {
                LogY = true,
                XMarks = marks,
                Width = 900,
            }
        );
    }

    /// <summary>Validation segm AP50, segm AP and sensitivity at the clinical threshold after each epoch, with the
    /// stage changes marked.</summary>
    public static ChartHtml ValidationCurves(TrainingMetrics metrics, double threshold = 0.9)
    {
        var v = metrics.Validations;
        double[] epochs = v.Select(r => (double)r.Epoch).ToArray();
        var starts = metrics.StageStarts.Select(s => new ChartMark(
            metrics.Train.First(r => r.Stage == s.Stage && r.Iteration >= s.Iteration).Epoch - 0.5,
            s.Stage
        ));
        return Charts.Render(
            ChartSpec.Lines(
                "Validation after each epoch",
                "epoch",
                "value (0–1)",
                new ChartSeries("segm AP50", X: epochs, Y: Values(v, r => r.SegmAP50)),
                new ChartSeries("segm AP", X: epochs, Y: Values(v, r => r.SegmAP)),
                new ChartSeries($"sensitivity @{threshold}", X: epochs, Y: Values(v, r => r.Sensitivity))
            ) with
            {
                YRange = [0, 1.02],
                XMarks = starts.ToList(),
            }
        );
    }

    /// <summary>Validation segm AP50 of several runs against their training time (validation excluded).</summary>
    public static ChartHtml ValidationVsTime(IEnumerable<(string Name, TrainingMetrics Metrics)> runs) =>
        Charts.Render(
            ChartSpec.Lines(
                "Validation segm AP50 vs training time",
                "training time (s, validation excluded)",
                "val segm AP50 (0–1)",
                runs.Select(r => new ChartSeries(
                        r.Name,
                        X: r.Metrics.Validations.Select(v => v.TrainingSeconds).ToArray(),
                        Y: Values(r.Metrics.Validations, v => v.SegmAP50)
                    ))
                    .ToArray()
            ) with
            {
                YRange = [0, 1.02],
                Width = 900,
            }
        );

    /// <summary>The total loss of a run (mean over each logging window) on a log scale.</summary>
    public static ChartHtml TotalLoss(TrainingMetrics metrics, string title) =>
        Charts.Render(
            ChartSpec.Lines(
                title,
                "iteration (batches)",
                "total loss (sum of the five losses)",
                new ChartSeries(
                    "total",
                    X: metrics.Train.Select(r => (double)r.Iteration).ToArray(),
                    Y: metrics.Train.Select(r => r.MeanLoss ?? r.Loss).ToArray()
                )
            ) with
            {
                LogY = true,
            }
        );

    static double[] Values(IReadOnlyList<ValRow> rows, Func<ValRow, double?> value) =>
        rows.Select(r => value(r) ?? double.NaN).ToArray();
}
