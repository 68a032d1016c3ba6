using MaskRcnn.Teaching;
using SkiaSharp;
using TorchSharp;
using static TorchSharp.torch;

namespace MaskRcnn.Visualization;

/// <summary>How training moved the weights (notebook 07, matterport's inspect_weights).</summary>
public static partial class Visualize
{
    /// <summary>The mean change of each part's weights and biases, on a log scale (a part without biases has no
    /// bias bar).</summary>
    public static ChartHtml ChangeByPart(IReadOnlyList<WeightChange.TensorChange> changes)
    {
        string[] parts = changes.Select(c => c.Part).Distinct().ToArray();
        ChartSeries Series(string kind) =>
            new(
                kind == "weight" ? "weights" : "biases",
                Y: parts.Select(p => MeanChange(changes, p, kind) ?? 0).ToArray(),
                Labels: parts
            );
        return Charts.Render(
            ChartSpec.Bars(
                "Mean change by part",
                "part of the model",
                "‖w − w₀‖ / (‖w₀‖ + ‖w‖)",
                Series("weight"),
                Series("bias")
            ) with
            {
                LogY = true,
                Width = 940,
                Height = 440,
            }
        );
    }

    /// <summary>Each part's mean change of its tensors of <paramref name="kind"/> ("weight", "bias", "norm"), null
    /// when it has none.</summary>
    public static double? MeanChange(IReadOnlyList<WeightChange.TensorChange> changes, string part, string kind)
    {
        var mine = changes.Where(c => c.Part == part && c.Kind == kind).ToList();
        return mine.Count == 0 ? null : mine.Average(c => c.Change);
    }

    /// <summary>
    /// matterport's weight histograms for every convolution, fully connected and transposed-convolution layer, weights
    /// and biases: the values at the start of training (grey outline) and after it (blue bars), each tensor on its
    /// own value range (given under it); in a box that scrolls.
    /// </summary>
    public static ChartHtml WeightHistograms(
        IReadOnlyList<WeightChange.TensorChange> changes,
        IReadOnlyDictionary<string, Tensor> initial,
        IReadOnlyDictionary<string, Tensor> trained,
        int columns = 3
    )
    {
        var panels = changes
            .Where(c => c.Kind is "weight" or "bias")
            .Select(c => MiniHistogram(c.Name, initial[c.Name], trained[c.Name], c.Change))
            .ToList();
        var grid = Draw.Grid(panels, columns, "");
        var key = "grey outline: at the start of training · blue bars: after training · each panel on its own range";
        return new ChartHtml(
            $"<div style=\"font-size:13px\">{System.Net.WebUtility.HtmlEncode(key)}</div>"
                + $"<div style=\"max-height:640px;overflow:auto;border:1px solid #ddd\">{grid.ToHtml()}</div>"
        );
    }

    /// <summary>One tensor's values before and after, 40 bins over both ranges together.</summary>
    static Figure MiniHistogram(
        string name,
        Tensor before,
        Tensor after,
        double change,
        int width = 300,
        int height = 150
    )
    {
        using var scope = NewDisposeScope();
        var a = before.detach().flatten().to(float64);
        var b = after.detach().flatten().to(float64);
        double lo = Math.Min(a.min().item<double>(), b.min().item<double>());
        double hi = Math.Max(a.max().item<double>(), b.max().item<double>());
        if (!(hi > lo))
            hi = lo + 1e-6;
        const int bins = 40;
        double[] Count(Tensor t)
        {
            var index = ((t - lo) / (hi - lo) * bins).floor().clamp(0, bins - 1).to(int64);
            return zeros(bins, dtype: float64).index_add_(0, index, ones_like(t), 1.0).data<double>().ToArray();
        }
        var start = Count(a);
        var end = Count(b);
        double top = Math.Max(start.Max(), end.Max());
        using var bmp = new SKBitmap(width, height);
        using (var canvas = new SKCanvas(bmp))
        {
            canvas.Clear(SKColors.White);
            float left = 6,
                right = width - 6,
                bottom = height - 22,
                plotTop = 6;
            float barWidth = (right - left) / bins;
            using var fill = new SKPaint { Color = new SKColor(31, 119, 180, 200) };
            using var outline = new SKPaint
            {
                Color = new SKColor(90, 90, 90),
                IsStroke = true,
                StrokeWidth = 1.2f,
                IsAntialias = true,
            };
            var path = new SKPath();
            for (int i = 0; i < bins; i++)
            {
                float x = left + i * barWidth;
                float h = (float)(end[i] / top) * (bottom - plotTop);
                canvas.DrawRect(new SKRect(x, bottom - h, x + barWidth - 0.5f, bottom), fill);
                float h0 = (float)(start[i] / top) * (bottom - plotTop);
                if (i == 0)
                    path.MoveTo(x, bottom - h0);
                else
                    path.LineTo(x, bottom - h0);
                path.LineTo(x + barWidth, bottom - h0);
            }
            canvas.DrawPath(path, outline);
            using var axis = new SKPaint { Color = SKColors.Gray, StrokeWidth = 1 };
            canvas.DrawLine(left, bottom, right, bottom, axis);
            Draw.Text(canvas, StaticChart.FormatValue(lo), left, height - 6, SKColors.Black, 12);
            string high = StaticChart.FormatValue(hi);
            Draw.Text(canvas, high, right - Draw.TextWidth(high, 12), height - 6, SKColors.Black, 12);
        }
        string shortName = name.Replace("backbone.body.", "")
            .Replace("backbone.fpn.", "fpn.")
            .Replace("roi_heads.", "");
        return Figure.FromBitmap(bmp, $"{shortName} (change {change:F3})");
    }
}
