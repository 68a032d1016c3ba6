using ScottPlot;

namespace MaskRcnn.Visualization;

/// <summary>
/// The static picture of a "parallel" <see cref="ChartSpec"/>: one vertical axis per series, each scaled from its
/// smallest to its largest value or tick, one line per item coloured by its value on the last axis (viridis, with a
/// colour bar), the axis names below and each axis's ticks beside it.
/// </summary>
static class ParallelCoordinates
{
    public static void Add(Plot plot, ChartSpec spec)
    {
        var axes = spec.Series.Select(Axis.Of).ToList();
        int room = Math.Max(8, spec.Width / axes.Count / 8); // characters between two axes at 11 px
        var colour = axes[^1];
        var colormap = new ScottPlot.Colormaps.Viridis();
        int lines = spec.Series[0].Y!.Length;
        for (int j = 0; j < lines; j++)
        {
            double[] ys = axes.Select(a => a.Position(a.Values[j])).ToArray();
            if (ys.Any(y => !double.IsFinite(y)))
                continue; // an undefined value: the line would end in the air
            var line = plot.Add.ScatterLine(Enumerable.Range(0, axes.Count).Select(i => (double)i).ToArray(), ys);
            line.Color = colormap.GetColor(colour.Position(colour.Values[j])).WithAlpha(0.85);
            line.LineWidth = 2;
            line.MarkerSize = 4;
        }
        for (int i = 0; i < axes.Count; i++)
        {
            var axisLine = plot.Add.VerticalLine(i, 1.5f, Colors.Black.WithAlpha(0.7));
            axisLine.ExcludeFromLegend = true;
            foreach (var (position, text) in axes[i].Ticks())
            {
                var label = plot.Add.Text(text.Length > room ? text[..(room - 1)] + "…" : text, i, position);
                label.LabelFontSize = 11;
                label.LabelAlignment = Alignment.MiddleLeft;
                label.LabelOffsetX = 4;
                label.LabelBackgroundColor = Colors.White.WithAlpha(0.7);
            }
        }
        plot.Axes.Bottom.SetTicks(
            Enumerable.Range(0, axes.Count).Select(i => (double)i).ToArray(),
            spec.Series.Select(s => StaticChart.Wrap(s.Name, room)).ToArray()
        );
        plot.Axes.Left.SetTicks([], []);
        plot.Axes.SetLimits(-0.3, axes.Count - 0.4, -0.06, 1.06);
        plot.Grid.IsVisible = false;
        var bar = plot.Add.ColorBar(new ColourAxis(colormap, colour.Low, colour.High));
        bar.Label = spec.ZTitle;
    }

    /// <summary>One axis: its values, its range and its tick texts.</summary>
    sealed record Axis(double[] Values, double Low, double High, double[]? TickPositions, string[]? TickTexts)
    {
        public static Axis Of(ChartSeries s)
        {
            var known = s.Y!.Concat(s.X ?? []).Where(double.IsFinite).DefaultIfEmpty(0).ToList();
            double low = known.Min(),
                high = known.Max();
            if (high - low < 1e-12)
                (low, high) = (low - 0.5, high + 0.5);
            return new Axis(s.Y!, low, high, s.X, s.Labels);
        }

        /// <summary>Where a value stands on the axis, 0 (bottom) to 1 (top); NaN for an undefined value.</summary>
        public double Position(double value) => double.IsFinite(value) ? (value - Low) / (High - Low) : double.NaN;

        /// <summary>The given ticks, else the smallest, middle and largest value.</summary>
        public IEnumerable<(double Position, string Text)> Ticks() =>
            TickPositions is not null
                ? TickPositions.Select((p, k) => (Position(p), TickTexts![k]))
                : new[] { Low, (Low + High) / 2, High }.Select(v => (Position(v), StaticChart.FormatValue(v)));
    }

    /// <summary>The colour bar's source: the colour map over the last axis's range.</summary>
    sealed class ColourAxis(IColormap colormap, double low, double high) : IHasColorAxis
    {
        public IColormap Colormap { get; set; } = colormap;

        public ScottPlot.Range GetRange() => new(low, high);
    }
}
