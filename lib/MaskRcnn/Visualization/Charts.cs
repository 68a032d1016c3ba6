using System.Reflection;
using System.Runtime.Loader;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace MaskRcnn.Visualization;

/// <summary>One series of a chart.</summary>
public sealed record ChartSeries(
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("x")] double[]? X = null,
    [property: JsonPropertyName("y")] double[]? Y = null,
    [property: JsonPropertyName("labels")] string[]? Labels = null,
    [property: JsonPropertyName("z")] double[][]? Z = null,
    [property: JsonPropertyName("y_labels")] string[]? YLabels = null);

/// <summary>A chart to draw with Plotly: lines, points, bars, histogram or heatmap.</summary>
public sealed record ChartSpec(
    [property: JsonPropertyName("kind")] string Kind,
    [property: JsonPropertyName("title")] string Title,
    [property: JsonPropertyName("series")] IReadOnlyList<ChartSeries> Series,
    [property: JsonPropertyName("x_title")] string XTitle = "",
    [property: JsonPropertyName("y_title")] string YTitle = "",
    [property: JsonPropertyName("width")] int Width = 720,
    [property: JsonPropertyName("height")] int Height = 420)
{
    public static ChartSpec Lines(string title, string xTitle, string yTitle, params ChartSeries[] series) => new("lines", title, series, xTitle, yTitle);
    public static ChartSpec Histogram(string title, string xTitle, params ChartSeries[] series) => new("histogram", title, series, xTitle, "count");
    public static ChartSpec Bars(string title, string yTitle, params ChartSeries[] series) => new("bars", title, series, "", yTitle);
    public static ChartSpec Heatmap(string title, string[] columns, string[] rows, double[][] values) =>
        new("heatmap", title, [new ChartSeries(title, Labels: columns, YLabels: rows, Z: values)], Width: 520, Height: 420);
}

/// <summary>An interactive chart's HTML, shown as such in notebooks (register it as text/html).</summary>
public sealed record ChartHtml(string Html)
{
    public override string ToString() => Html;
}

/// <summary>
/// Draws Plotly charts through MaskRcnn.Charts.dll (F#, Plotly.NET 6), loaded with its own FSharp.Core 10.1
/// into a separate AssemblyLoadContext: the .NET Interactive kernel pins FSharp.Core 10.0, which Plotly.NET 6
/// cannot use, and this way the two never meet. The boundary is a JSON spec in and an HTML string out.
/// Chart HTML references plotly.js from its CDN (no chart offline) unless self-contained (plotly.js inlined,
/// about 3.6 MB) — set MASKRCNN_PLOTLY_INLINE=1 to inline in notebooks too.
/// </summary>
public static class Charts
{
    static readonly Lazy<Func<string, bool, string>> Renderer = new(Load);
    static readonly JsonSerializerOptions Json = new() { DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull };

    /// <summary>Where MaskRcnn.Charts.dll and its dependencies are: $MASKRCNN_CHARTS_DIR, charts/ beside this library, or artifacts/charts/ of the repository.</summary>
    public static string? Folder()
    {
        var candidates = new List<string?> { Environment.GetEnvironmentVariable("MASKRCNN_CHARTS_DIR") };
        string? dir = Path.GetDirectoryName(typeof(Charts).Assembly.Location);
        candidates.Add(dir is null ? null : Path.Combine(dir, "charts"));
        for (var d = dir is null ? null : new DirectoryInfo(dir); d is not null; d = d.Parent)
            candidates.Add(Path.Combine(d.FullName, "artifacts", "charts"));
        return candidates.FirstOrDefault(c => c is not null && File.Exists(Path.Combine(c, "MaskRcnn.Charts.dll")));
    }

    /// <summary>HTML for a notebook cell (a div and script).</summary>
    public static ChartHtml Render(ChartSpec spec) =>
        new(Renderer.Value(JsonSerializer.Serialize(spec, Json), Environment.GetEnvironmentVariable("MASKRCNN_PLOTLY_INLINE") == "1"));

    /// <summary>A self-contained HTML page (plotly.js inlined), written to <paramref name="path"/>.</summary>
    public static void Save(ChartSpec spec, string path)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        File.WriteAllText(path, Renderer.Value(JsonSerializer.Serialize(spec, Json), true));
    }

    static Func<string, bool, string> Load()
    {
        string folder = Folder() ?? throw new MaskRcnnException(
            "charts are unavailable: MaskRcnn.Charts.dll was not found (build the solution; it is written to artifacts/charts/ and copied as charts/ next to MaskRcnn.Core.dll)");
        var context = new ChartsLoadContext(folder);
        var assembly = context.LoadFromAssemblyPath(Path.Combine(folder, "MaskRcnn.Charts.dll"));
        var method = assembly.GetType("MaskRcnn.Charts.Renderer")?.GetMethod("Render", BindingFlags.Public | BindingFlags.Static)
                     ?? throw new MaskRcnnException($"{folder}: MaskRcnn.Charts.dll has no Renderer.Render");
        return (spec, selfContained) =>
        {
            try { return (string)method.Invoke(null, [spec, selfContained])!; }
            catch (TargetInvocationException e) when (e.InnerException is not null) { throw new MaskRcnnException($"chart failed: {e.InnerException.Message}", e.InnerException); }
        };
    }

    /// <summary>Resolves every assembly present in the charts folder from there (its FSharp.Core first), the rest from the default context.</summary>
    sealed class ChartsLoadContext(string folder) : AssemblyLoadContext("MaskRcnn.Charts", isCollectible: false)
    {
        protected override Assembly? Load(AssemblyName name)
        {
            string path = Path.Combine(folder, name.Name + ".dll");
            return File.Exists(path) ? LoadFromAssemblyPath(path) : null;
        }
    }
}
