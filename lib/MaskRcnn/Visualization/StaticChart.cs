using ScottPlot;

namespace MaskRcnn.Visualization;

/// <summary>
/// Draws a <see cref="ChartSpec"/> as a PNG with ScottPlot 5 (through SkiaSharp, headless): the picture every
/// notebook client shows, GitHub's script-free view included. Same title, axis titles, colours, legend and bins as
/// the interactive Plotly chart drawn from the same spec.
/// </summary>
public static class StaticChart
{
    /// <summary>The chart as PNG bytes of the spec's width and height.</summary>
    public static byte[] Png(ChartSpec spec)
    {
        spec = spec.Resolved();
        // The default font by name, no SkiaSharp type at this boundary: in a notebook kernel, once TorchSharp's
        // TensorBoard image writer has run, ScottPlot's Font.Set (which returns an SKTypeface) no longer binds
        // (MissingMethodException; TorchSharp is built against SkiaSharp 2.88, we use 3.119). Set before the plot is
        // made: its title and axis labels take the default when they are created.
        if (FontName is { } font)
            Fonts.Default = font;
        var plot = new Plot();
        try
        {
            Style(plot, spec);
            switch (spec.Kind)
            {
                case "lines" or "points":
                    AddXY(plot, spec);
                    break;
                case "bars":
                    AddBars(plot, spec);
                    break;
                case "histogram":
                    AddHistogram(plot, spec);
                    break;
                case "heatmap":
                    AddHeatmap(plot, spec);
                    break;
                case "parallel":
                    ParallelCoordinates.Add(plot, spec);
                    break;
            }
            // A mark's label sits on the top edge of the data area: room for it there keeps it off the title.
            if (spec.XMarks is { Count: > 0 })
                plot.Axes.Top.MinimumSize = 30;
            foreach (var mark in spec.XMarks ?? [])
            {
                var line = plot.Add.VerticalLine(mark.X, 1.5f, Colors.Black.WithAlpha(0.6));
                line.LinePattern = LinePattern.Dashed;
                line.LabelText = mark.Label;
                line.LabelOppositeAxis = true;
            }
            if (spec.YRange is { } range)
                plot.Axes.SetLimitsY(
                    spec.LogY ? Math.Log10(range[0]) : range[0],
                    spec.LogY ? Math.Log10(range[1]) : range[1]
                );
            bool legend =
                spec.Kind is not ("heatmap" or "parallel") && (spec.Series.Count > 1 || spec.Kind == "histogram");
            if (legend)
                plot.ShowLegend(Edge.Right); // outside the data area: a legend never hides a curve
            else
                plot.HideLegend(); // one series: the title and axis say what it is
            return plot.GetImageBytes(spec.Width, spec.Height, ImageFormat.Png);
        }
        finally
        {
            plot.Dispose();
        }
    }

    static void Style(Plot plot, ChartSpec spec)
    {
        plot.Title(spec.Title, size: 16);
        plot.XLabel(spec.XTitle, size: 13);
        plot.YLabel(spec.LogY ? $"{spec.YTitle} (log scale)" : spec.YTitle, size: 13);
        plot.Axes.Title.Label.Bold = false;
        plot.Axes.Bottom.Label.Bold = false;
        plot.Axes.Left.Label.Bold = false;
        plot.Grid.MajorLineColor = Colors.Black.WithAlpha(0.1);
        if (spec.LogY)
            plot.Axes.Left.TickGenerator = DecadeTicks(spec);
    }

    /// <summary>
    /// A log axis's ticks: one labelled tick per power of ten over the data (0.001, 0.01, 0.1, 1, 10 …) with unlabelled
    /// minor ticks between — never labels such as "5" or "2" that read as linear values.
    /// </summary>
    static ScottPlot.TickGenerators.NumericManual DecadeTicks(ChartSpec spec)
    {
        var logs = spec
            .Series.SelectMany(s => spec.Kind == "bars" ? s.Y! : s.Y ?? [])
            .Where(v => v > 0 && double.IsFinite(v))
            .Select(Math.Log10)
            .DefaultIfEmpty(0)
            .ToList();
        double lo = spec.YRange is { } r ? Math.Log10(r[0]) : logs.Min();
        double hi = spec.YRange is { } r2 ? Math.Log10(r2[1]) : logs.Max();
        var ticks = new ScottPlot.TickGenerators.NumericManual();
        for (int k = (int)Math.Floor(lo) - 1; k <= (int)Math.Ceiling(hi) + 1; k++)
        {
            ticks.AddMajor(k, FormatValue(Math.Pow(10, k)));
            for (int m = 2; m < 10; m++)
                ticks.AddMinor(k + Math.Log10(m));
        }
        return ticks;
    }

    static void AddXY(Plot plot, ChartSpec spec)
    {
        foreach (var s in spec.Series)
        {
            var (xs, ys) = spec.LogY ? PositiveLog(s.X!, s.Y!) : (s.X!, s.Y!);
            var color = Color.FromHex(s.Color!);
            var scatter =
                spec.Kind == "points" ? plot.Add.ScatterPoints(xs, ys, color) : plot.Add.ScatterLine(xs, ys, color);
            scatter.LegendText = s.Name;
            if (spec.Kind == "lines")
            {
                scatter.LineWidth = 2;
                scatter.MarkerSize = xs.Length <= 30 ? 5 : 0;
                if (s.Dash)
                    scatter.LinePattern = LinePattern.Dashed;
            }
            else
            {
                scatter.MarkerSize = 7;
            }
        }
    }

    static (double[] X, double[] Y) PositiveLog(double[] x, double[] y)
    {
        var keep = Enumerable.Range(0, y.Length).Where(i => y[i] > 0 && double.IsFinite(y[i])).ToArray();
        return (keep.Select(i => x[i]).ToArray(), keep.Select(i => Math.Log10(y[i])).ToArray());
    }

    static void AddBars(Plot plot, ChartSpec spec)
    {
        var labels = spec.Series[0].Labels!;
        int groups = spec.Series.Count;
        double width = 0.8 / groups;
        // On a log axis bars stand on the decade below the smallest value.
        double floor = spec.LogY
            ? Math.Floor(spec.Series.SelectMany(s => s.Y!).Where(v => v > 0).Select(Math.Log10).DefaultIfEmpty(0).Min())
            : 0;
        var bars = new List<Bar>();
        var labelsOnTop = new List<(string Text, double X, double Y)>();
        for (int g = 0; g < groups; g++)
        {
            var s = spec.Series[g];
            for (int i = 0; i < s.Y!.Length; i++)
            {
                int category = Array.IndexOf(labels, s.Labels![i]);
                double position = (category < 0 ? i : category) - 0.4 + width * (g + 0.5);
                double value = spec.LogY ? Math.Log10(Math.Max(s.Y[i], Math.Pow(10, floor))) : s.Y[i];
                bars.Add(
                    new Bar
                    {
                        Position = position,
                        Value = value,
                        ValueBase = floor,
                        FillColor = Color.FromHex(s.Color!),
                        Size = width * 0.95,
                        Label = spec.LogY ? null : FormatValue(s.Y[i]),
                    }
                );
                if (spec.LogY && s.Y[i] > 0)
                    labelsOnTop.Add((FormatValue(s.Y[i]), position, value));
            }
        }
        var barPlot = plot.Add.Bars(bars);
        barPlot.ValueLabelStyle.FontSize = 11;
        // ScottPlot puts a bar's label under its top when the value is negative, where a log axis's values below 1
        // are: hidden there, so on a log axis each label is a text standing on its bar, drawn after all the bars.
        foreach (var (label, x, y) in labelsOnTop)
        {
            var text = plot.Add.Text(label, x, y);
            text.LabelFontSize = 10;
            text.LabelAlignment = Alignment.LowerCenter;
        }
        if (groups > 1)
        {
            foreach (var s in spec.Series)
                plot.Legend.ManualItems.Add(new LegendItem { LabelText = s.Name, FillColor = Color.FromHex(s.Color!) });
        }
        plot.Axes.Bottom.SetTicks(
            Enumerable.Range(0, labels.Length).Select(i => (double)i).ToArray(),
            WrapToColumns(labels, spec.Width, minimum: 8)
        );
        plot.Axes.Bottom.MajorTickStyle.Length = 0;
        plot.Axes.Margins(bottom: 0, top: spec.LogY ? 0.2 : 0.15); // room for the value above the highest bar
    }

    static void AddHistogram(Plot plot, ChartSpec spec)
    {
        var bins = spec.Bins!;
        double[]? below = null; // stacked: the counts of the series drawn so far
        foreach (var s in spec.Series)
        {
            var counts = bins.Count(s.X!);
            double alpha = spec.Series.Count > 1 && !spec.Stacked ? 0.55 : 0.85;
            var color = Color.FromHex(s.Color!).WithAlpha(alpha);
            var bottom = below ?? new double[counts.Length];
            var bars = counts
                .Select(
                    (c, i) =>
                        new Bar
                        {
                            Position = bins.Start + (i + 0.5) * bins.Size,
                            Value = bottom[i] + c,
                            ValueBase = bottom[i],
                            FillColor = color,
                            LineColor = color.WithAlpha(1),
                            LineWidth = 0.5f,
                            Size = bins.Size,
                        }
                )
                .ToList();
            if (spec.Stacked)
                below = bottom.Zip(counts, (a, b) => a + b).ToArray();
            var barPlot = plot.Add.Bars(bars);
            barPlot.LegendText = s.Name;
        }
        plot.Axes.Margins(bottom: 0, top: 0.08);
    }

    static void AddHeatmap(Plot plot, ChartSpec spec)
    {
        var s = spec.Series[0];
        int rows = s.Z!.Length,
            columns = s.Labels!.Length;
        var values = new double[rows, columns];
        for (int r = 0; r < rows; r++)
        for (int c = 0; c < columns; c++)
            values[r, c] = s.Z[r][c];
        var heatmap = plot.Add.Heatmap(values);
        heatmap.Colormap = new ScottPlot.Colormaps.Viridis();
        heatmap.Extent = new CoordinateRect(-0.5, columns - 0.5, -0.5, rows - 0.5);
        // Row 0 at the top, as the table reads; ScottPlot draws data[0, *] at the top of the extent.
        double max = s.Z.SelectMany(v => v).DefaultIfEmpty(0).Max();
        double min = s.Z.SelectMany(v => v).DefaultIfEmpty(0).Min();
        for (int r = 0; r < rows; r++)
        {
            for (int c = 0; c < columns; c++)
            {
                double v = s.Z[r][c];
                bool dark = max > min && (v - min) / (max - min) < 0.6;
                var text = plot.Add.Text(FormatValue(v), c, rows - 1 - r);
                text.LabelFontSize = 18;
                text.LabelBold = true;
                text.LabelFontColor = dark ? Colors.White : Colors.Black;
                text.LabelAlignment = Alignment.MiddleCenter;
            }
        }
        // Long column labels ("2: malignant 0.99") break into lines that fit their column (the colour bar and the
        // row labels take about a third of the width) rather than run into their neighbours.
        plot.Axes.Bottom.SetTicks(
            Enumerable.Range(0, columns).Select(i => (double)i).ToArray(),
            WrapToColumns(s.Labels, spec.Width * 2 / 3, minimum: 6)
        );
        plot.Axes.Left.SetTicks(Enumerable.Range(0, rows).Select(i => (double)(rows - 1 - i)).ToArray(), s.YLabels!);
        plot.Axes.SetLimits(-0.5, columns - 0.5, -0.5, rows - 0.5);
        var bar = plot.Add.ColorBar(heatmap);
        bar.Label = spec.ZTitle;
        plot.Grid.IsVisible = false;
    }

    /// <summary>
    /// Category labels broken into lines that fit their share of <paramref name="width"/> pixels (about 8 px a
    /// character at the tick labels' size), and at least <paramref name="minimum"/> characters wide.
    /// </summary>
    static string[] WrapToColumns(string[] labels, int width, int minimum)
    {
        int characters = Math.Max(minimum, width / Math.Max(1, labels.Length) / 8);
        return labels.Select(l => Wrap(l, characters)).ToArray();
    }

    /// <summary>Breaks a category label into lines of about <paramref name="width"/> characters at spaces.</summary>
    internal static string Wrap(string label, int width)
    {
        var lines = new List<string>();
        string line = "";
        foreach (string word in label.Split(' '))
        {
            if (line.Length > 0 && line.Length + 1 + word.Length > width)
            {
                lines.Add(line);
                line = word;
            }
            else
            {
                line = line.Length == 0 ? word : line + " " + word;
            }
        }
        lines.Add(line);
        return string.Join("\n", lines);
    }

    /// <summary>Integers as such, other values with three significant digits.</summary>
    public static string FormatValue(double v) =>
        Math.Abs(v - Math.Round(v)) < 1e-9 && Math.Abs(v) < 1e9 ? ((long)Math.Round(v)).ToString() : v.ToString("G3");

    static string? _fontName;
    static bool _fontChecked;

    /// <summary>DejaVu Sans where installed (environment/setup.sh installs it), else ScottPlot's default.</summary>
    static string? FontName
    {
        get
        {
            if (_fontChecked)
                return _fontName;
            _fontChecked = true;
            using var typeface = SkiaSharp.SKFontManager.Default.MatchFamily("DejaVu Sans");
            _fontName = typeface is not null && typeface.FamilyName == "DejaVu Sans" ? "DejaVu Sans" : null;
            return _fontName;
        }
    }
}
