using System.Text.Json.Serialization;

namespace MaskRcnn.Visualization;

/// <summary>
/// One series of a chart: x/y values (lines, points, histogram values in <see cref="X"/>), bar values with their
/// category <see cref="Labels"/>, or a heatmap's rows <see cref="Z"/> with column <see cref="Labels"/> and
/// <see cref="YLabels"/>. <see cref="Color"/> (#rrggbb) is filled in from <see cref="ChartSpec.Palette"/> when empty,
/// so the static picture and the interactive chart use the same colours.
/// </summary>
public sealed record ChartSeries(
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("x")] double[]? X = null,
    [property: JsonPropertyName("y")] double[]? Y = null,
    [property: JsonPropertyName("labels")] string[]? Labels = null,
    [property: JsonPropertyName("z")] double[][]? Z = null,
    [property: JsonPropertyName("y_labels")] string[]? YLabels = null,
    [property: JsonPropertyName("color")] string? Color = null,
    [property: JsonPropertyName("dash")] bool Dash = false
);

/// <summary>A vertical reference line, e.g. the 0.9 confidence threshold.</summary>
public sealed record ChartMark(
    [property: JsonPropertyName("x")] double X,
    [property: JsonPropertyName("label")] string Label
);

/// <summary>Histogram bins shared by every series of a histogram: [Start, End) in steps of Size.</summary>
public sealed record HistogramBins(
    [property: JsonPropertyName("start")] double Start,
    [property: JsonPropertyName("end")] double End,
    [property: JsonPropertyName("size")] double Size
)
{
    /// <summary>Bin counts of <paramref name="values"/> (values outside [Start, End] are not counted).</summary>
    public double[] Count(IEnumerable<double> values)
    {
        int n = Math.Max(1, (int)Math.Round((End - Start) / Size));
        var counts = new double[n];
        foreach (double v in values)
        {
            if (!double.IsFinite(v) || v < Start || v > End)
                continue;
            // a value on an edge goes to the bin above it, as in Plotly ((1.0 - 0.4) / 0.2 is 2.999… in floating point)
            counts[Math.Min(n - 1, (int)Math.Floor((v - Start) / Size + 1e-9))]++;
        }
        return counts;
    }

    /// <summary>
    /// Bins over the range of every series (at most 40, at least 8, by the square-root rule), with round edges so the
    /// static picture and the interactive chart bin alike.
    /// </summary>
    public static HistogramBins For(IEnumerable<ChartSeries> series)
    {
        var values = series.SelectMany(s => s.X ?? []).Where(double.IsFinite).ToList();
        if (values.Count == 0)
            return new HistogramBins(0, 1, 0.1);
        double lo = values.Min(),
            hi = values.Max();
        if (hi - lo < 1e-12)
            return new HistogramBins(lo - 0.5, lo + 0.5, 0.1);
        int bins = Math.Clamp((int)Math.Ceiling(Math.Sqrt(values.Count)), 8, 40);
        double size = NiceStep((hi - lo) / bins);
        double start = Math.Floor(lo / size) * size;
        double end = Math.Ceiling(hi / size) * size;
        if (end <= hi)
            end += size;
        return new HistogramBins(start, end, size);
    }

    /// <summary>1, 2, 2.5 or 5 times a power of ten, at least <paramref name="raw"/>.</summary>
    static double NiceStep(double raw)
    {
        double power = Math.Pow(10, Math.Floor(Math.Log10(raw)));
        foreach (double m in new[] { 1, 2, 2.5, 5, 10 })
            if (m * power >= raw)
                return m * power;
        return 10 * power;
    }
}

/// <summary>
/// A chart, drawn twice from this one description: as a static PNG (ScottPlot, shown by every client, GitHub
/// included) and as an interactive Plotly chart (shown where the client runs scripts). Kinds: "lines", "points",
/// "bars", "histogram", "heatmap", "parallel" (parallel coordinates). Every chart has a title and both axis titles (say the unit in them);
/// <see cref="Validate"/> refuses one without.
/// </summary>
public sealed record ChartSpec(
    [property: JsonPropertyName("kind")] string Kind,
    [property: JsonPropertyName("title")] string Title,
    [property: JsonPropertyName("series")] IReadOnlyList<ChartSeries> Series,
    [property: JsonPropertyName("x_title")] string XTitle = "",
    [property: JsonPropertyName("y_title")] string YTitle = "",
    [property: JsonPropertyName("width")] int Width = 720,
    [property: JsonPropertyName("height")] int Height = 420
)
{
    /// <summary>A logarithmic y axis (for curves where one early spike would flatten the rest).</summary>
    [JsonPropertyName("log_y")]
    public bool LogY { get; init; }

    /// <summary>The heatmap's colour-bar title.</summary>
    [JsonPropertyName("z_title")]
    public string ZTitle { get; init; } = "";

    /// <summary>Vertical reference lines.</summary>
    [JsonPropertyName("x_marks")]
    public IReadOnlyList<ChartMark>? XMarks { get; init; }

    /// <summary>Fixed y range (both renderers), e.g. [0, 1.02] for metrics.</summary>
    [JsonPropertyName("y_range")]
    public double[]? YRange { get; init; }

    /// <summary>
    /// A histogram's series stacked on one another instead of overlaid: every class keeps its own colour (overlaid,
    /// translucent bars blend into a third colour where they meet).
    /// </summary>
    [JsonPropertyName("stacked")]
    public bool Stacked { get; init; }

    /// <summary>Histogram bins (computed by <see cref="Resolved"/> when not given).</summary>
    [JsonPropertyName("bins")]
    public HistogramBins? Bins { get; init; }

    /// <summary>The category-10 colours (Plotly's and ScottPlot's default), given to series in order, then their light
    /// shades (category-20's), so that a chart of up to 20 series (a sweep's trials) repeats no colour.</summary>
    public static readonly string[] Palette =
    [
        "#1f77b4",
        "#ff7f0e",
        "#2ca02c",
        "#d62728",
        "#9467bd",
        "#8c564b",
        "#e377c2",
        "#7f7f7f",
        "#bcbd22",
        "#17becf",
        "#aec7e8",
        "#ffbb78",
        "#98df8a",
        "#ff9896",
        "#c5b0d5",
        "#c49c94",
        "#f7b6d2",
        "#c7c7c7",
        "#dbdb8d",
        "#9edae5",
    ];

    public static readonly string[] Kinds = ["lines", "points", "bars", "histogram", "heatmap", "parallel"];

    public static ChartSpec Lines(string title, string xTitle, string yTitle, params ChartSeries[] series) =>
        new("lines", title, series, xTitle, yTitle);

    public static ChartSpec Points(string title, string xTitle, string yTitle, params ChartSeries[] series) =>
        new("points", title, series, xTitle, yTitle);

    public static ChartSpec Histogram(string title, string xTitle, string yTitle, params ChartSeries[] series) =>
        new("histogram", title, series, xTitle, yTitle);

    /// <summary>Bars: each series gives <see cref="ChartSeries.Y"/> values for its category <see
    /// cref="ChartSeries.Labels"/>.</summary>
    public static ChartSpec Bars(string title, string xTitle, string yTitle, params ChartSeries[] series) =>
        new("bars", title, series, xTitle, yTitle);

    /// <summary>A heatmap with the value written in every cell; <paramref name="values"/>[row][column].</summary>
    public static ChartSpec Heatmap(
        string title,
        string xTitle,
        string yTitle,
        string[] columns,
        string[] rows,
        double[][] values,
        string zTitle
    ) =>
        new(
            "heatmap",
            title,
            [new ChartSeries(title, Labels: columns, YLabels: rows, Z: values)],
            xTitle,
            yTitle,
            Width: 560,
            Height: 440
        )
        {
            ZTitle = zTitle,
        };

    /// <summary>
    /// Parallel coordinates: one vertical axis per series, one line per item (e.g. a sweep's trials) through its value
    /// on every axis, coloured by the last axis (<paramref name="colorTitle"/>: yellow high, purple low). An axis gives
    /// the values in <see cref="ChartSeries.Y"/> (one per line, every axis as many; NaN where undefined: the line is
    /// left out) and, optionally, its ticks: positions in <see cref="ChartSeries.X"/> with their text in
    /// <see cref="ChartSeries.Labels"/> (category names at 0, 1, …; "0.01" at −2 on a log axis). Each axis has its
    /// own scale, from its smallest to its largest value or tick.
    /// </summary>
    public static ChartSpec Parallel(string title, string colorTitle, params ChartSeries[] axes) =>
        new("parallel", title, axes, "parameter (one axis each)", "value (each axis its own scale)", 860, 460)
        {
            ZTitle = colorTitle,
        };

    /// <summary>Throws <see cref="MaskRcnnException"/> naming what is missing or inconsistent.</summary>
    public void Validate()
    {
        string where = $"chart '{Title}'";
        if (string.IsNullOrWhiteSpace(Title))
            throw new MaskRcnnException("chart: every chart needs a title");
        if (!Kinds.Contains(Kind))
            throw new MaskRcnnException($"{where}: unknown kind '{Kind}' (use {string.Join(", ", Kinds)})");
        if (string.IsNullOrWhiteSpace(XTitle) || string.IsNullOrWhiteSpace(YTitle))
            throw new MaskRcnnException(
                $"{where}: both axes need a title (x: '{XTitle}', y: '{YTitle}'); say the unit"
            );
        if (Width < 100 || Height < 100)
            throw new MaskRcnnException($"{where}: {Width}×{Height} px is too small");
        if (Series.Count == 0)
            throw new MaskRcnnException($"{where}: no series");
        foreach (var s in Series)
        {
            switch (Kind)
            {
                case "lines" or "points" when s.X is null || s.Y is null || s.X.Length != s.Y.Length:
                    throw new MaskRcnnException($"{where}, series '{s.Name}': x and y must have the same length");
                case "bars" when s.Y is null || s.Labels is null || s.Labels.Length != s.Y.Length:
                    throw new MaskRcnnException($"{where}, series '{s.Name}': bars need one label per value");
                case "histogram" when s.X is null:
                    throw new MaskRcnnException($"{where}, series '{s.Name}': a histogram needs values in x");
                case "heatmap"
                    when s.Z is null
                        || s.Labels is null
                        || s.YLabels is null
                        || s.Z.Length != s.YLabels.Length
                        || s.Z.Any(row => row.Length != s.Labels.Length):
                    throw new MaskRcnnException(
                        $"{where}: the heatmap needs one row label per row and one column label per column"
                    );
                case "parallel" when s.Y is null || s.Y.Length != Series[0].Y?.Length:
                    throw new MaskRcnnException(
                        $"{where}, axis '{s.Name}': parallel coordinates need values in y, as many on every axis"
                    );
                case "parallel" when (s.X is null) != (s.Labels is null) || s.X?.Length != s.Labels?.Length:
                    throw new MaskRcnnException(
                        $"{where}, axis '{s.Name}': ticks need a position (x) for every text (labels)"
                    );
            }
        }
        if (YRange is not null && (YRange.Length != 2 || !(YRange[0] < YRange[1])))
            throw new MaskRcnnException($"{where}: y_range must be [low, high] with low < high");
    }

    /// <summary>This spec validated, with series colours and histogram bins filled in: what both renderers
    /// draw.</summary>
    public ChartSpec Resolved()
    {
        Validate();
        var series = Series
            .Select((s, i) => s.Color is null ? s with { Color = Palette[i % Palette.Length] } : s)
            .ToList();
        return this with { Series = series, Bins = Kind == "histogram" ? Bins ?? HistogramBins.For(series) : Bins };
    }
}
