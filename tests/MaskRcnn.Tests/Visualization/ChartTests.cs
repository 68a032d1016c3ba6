using MaskRcnn.Config;
using MaskRcnn.Visualization;
using SkiaSharp;

namespace MaskRcnn.Tests.Visualization;

/// <summary>Charts: one spec, a static picture (ScottPlot) and an interactive Plotly chart that loads without a
/// CDN.</summary>
public class ChartTests
{
    static readonly ChartSeries Squares = new("y = x²", X: [0, 1, 2, 3], Y: [0, 1, 4, 9]);

    [Fact]
    public void Every_chart_needs_a_title_and_both_axis_titles()
    {
        Assert.Throws<MaskRcnnException>(() => ChartSpec.Lines("", "x", "y", Squares).Validate());
        var e = Assert.Throws<MaskRcnnException>(() => ChartSpec.Lines("t", "x", "", Squares).Validate());
        Assert.Contains("both axes need a title", e.Message);
        Assert.Throws<MaskRcnnException>(() =>
            ChartSpec.Lines("t", "x", "y", new ChartSeries("bad", X: [1, 2], Y: [1])).Validate()
        );
        Assert.Throws<MaskRcnnException>(() => new ChartSpec("pie", "t", [Squares], "x", "y").Validate());
    }

    [Theory]
    [InlineData("lines")]
    [InlineData("points")]
    [InlineData("histogram")]
    [InlineData("bars")]
    [InlineData("heatmap")]
    [InlineData("parallel")]
    public void Each_kind_draws_a_picture_of_the_requested_size(string kind)
    {
        var spec = kind switch
        {
            "bars" => ChartSpec.Bars(
                "t",
                "category",
                "value",
                new ChartSeries("v", Y: [1, 10, 100], Labels: ["a", "b", "c"])
            ) with
            {
                LogY = true,
            },
            "heatmap" => ChartSpec.Heatmap(
                "t",
                "predicted",
                "truth",
                ["a", "b"],
                ["a", "b"],
                [
                    [3, 1],
                    [0, 4],
                ],
                "images"
            ),
            "parallel" => Trials,
            "histogram" => ChartSpec.Histogram(
                "t",
                "value",
                "count",
                new ChartSeries("v", X: Enumerable.Range(0, 50).Select(i => i * 0.1).ToArray())
            ),
            _ => new ChartSpec(kind, "t", [Squares], "x", "y") with
            {
                LogY = kind == "lines",
                XMarks = [new ChartMark(1.5, "mark")],
            },
        };
        var png = Charts.Png(spec);
        using var bitmap = SKBitmap.Decode(png);
        Assert.Equal(spec.Width, bitmap.Width);
        Assert.Equal(spec.Height, bitmap.Height);
        // Not blank: more than a handful of distinct colours (axes, text, data).
        var colours = new HashSet<SKColor>();
        for (int y = 0; y < bitmap.Height; y += 3)
        for (int x = 0; x < bitmap.Width; x += 3)
            colours.Add(bitmap.GetPixel(x, y));
        Assert.True(colours.Count > 20, $"{kind}: {colours.Count} colours");
    }

    [Fact]
    public void The_notebook_output_carries_the_picture_and_a_plotly_figure_and_loads_plotly_js_itself()
    {
        string loader = Charts.PlotlyLoaderHtml();
        Assert.Contains("DecompressionStream", loader);
        Assert.DoesNotContain("cdn.plot.ly", loader);
        Assert.True(loader.Length > 500_000, "plotly.js travels inside the loader");
        string html = Charts.Render(ChartSpec.Lines("t", "x", "y", Squares)).Html;
        Assert.Contains("<img class=\"maskrcnn-chart-static\"", html);
        Assert.Contains("data:image/png;base64,", html);
        Assert.Contains("Plotly.newPlot", html);
        Assert.DoesNotContain("cdn.plot.ly", html);
    }

    /// <summary>Five sweep trials over a log axis, a category axis and a plain one, coloured by the metric (one
    /// undefined).</summary>
    static readonly ChartSpec Trials = ChartSpec.Parallel(
        "Trials",
        "val segm AP50",
        new ChartSeries(
            "learning rate",
            Y: [-2, -1.5, -1.2, -2.5, -1],
            X: [-3, -2, -1],
            Labels: ["0.001", "0.01", "0.1"]
        ),
        new ChartSeries("start", Y: [0, 1, 1, 0, 1], X: [0, 1], Labels: ["none", "imagenet"]),
        new ChartSeries("min size", Y: [256, 384, 320, 256, 384]),
        new ChartSeries("val segm AP50", Y: [0.2, 0.6, 0.7, double.NaN, 0.4])
    );

    [Fact]
    public void Parallel_coordinates_draw_one_plotly_dimension_per_axis_and_leave_out_undefined_lines()
    {
        Assert.Throws<MaskRcnnException>(() =>
            ChartSpec.Parallel("t", "c", new ChartSeries("a", Y: [1, 2]), new ChartSeries("b", Y: [1])).Validate()
        );
        Assert.Throws<MaskRcnnException>(() =>
            ChartSpec.Parallel("t", "c", new ChartSeries("a", Y: [1, 2], X: [0, 1], Labels: ["x"])).Validate()
        );
        string html = Charts.Render(Trials).Html;
        Assert.Contains("data:image/png;base64,", html);
        Assert.Contains("\"parcoords\"", html);
        Assert.Contains("\"imagenet\"", html); // the category axis's tick text
        // Four lines: the trial without a metric is left out of every dimension.
        Assert.Contains("[-2.0,-1.5,-1.2,-1.0]", html.Replace(" ", ""));
    }

    [Fact]
    public void Histogram_bins_are_shared_by_the_series_and_count_every_value()
    {
        var a = new ChartSeries("a", X: [0.1, 0.2, 0.95, 1.0]);
        var b = new ChartSeries("b", X: [0.5, 0.55]);
        var bins = HistogramBins.For([a, b]);
        Assert.True(bins.Start <= 0.1 && bins.End >= 1.0);
        Assert.Equal(4, bins.Count(a.X!).Sum());
        Assert.Equal(2, bins.Count(b.X!).Sum());
    }
}
