using System.IO.Compression;
using System.Net;
using System.Reflection;
using System.Runtime.Loader;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using MaskRcnn.Runtime;

namespace MaskRcnn.Visualization;

/// <summary>A chart's HTML, shown as such in notebooks (register it as text/html, as notebooks/setup.csx
/// does).</summary>
public sealed record ChartHtml(string Html)
{
    public override string ToString() => Html;
}

/// <summary>
/// Charts for notebooks, drawn twice from one <see cref="ChartSpec"/>:
/// <list type="bullet">
/// <item>a static PNG (<see cref="StaticChart"/>, ScottPlot) inside the output's HTML, which every client shows —
/// GitHub and nbconvert pages without scripts included;</item>
/// <item>an interactive Plotly chart (Plotly.NET, in MaskRcnn.Charts.dll) that replaces the picture where the client
/// runs scripts (VS Code, JupyterLab, Jupyter, a browser opening nbconvert's HTML). plotly.js comes with the output
/// itself, never from a CDN: the first chart of a process carries it (gzip-compressed, ~1.4 MB of base64), later
/// charts wait for it. Where it cannot load, the static picture stays.</item>
/// </list>
/// MaskRcnn.Charts.dll is loaded with its own FSharp.Core 10.1 into a separate AssemblyLoadContext: the .NET
/// Interactive kernel pins FSharp.Core 10.0, which Plotly.NET 6 cannot use. The boundary is JSON in, text out.
/// MASKRCNN_CHARTS=static leaves the interactive layer out (smaller notebooks).
/// </summary>
public static class Charts
{
    static readonly Lazy<ChartsLibrary> Library = new(ChartsLibrary.Load);
    static readonly JsonSerializerOptions Json = new()
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals, // an undefined value is "NaN"
    };
    static readonly object Gate = new();
    static bool _loaderWritten;
    static int _counter;

    /// <summary>False when MASKRCNN_CHARTS=static: outputs hold the static picture only.</summary>
    public static bool Interactive => RuntimeOptions.InteractiveCharts;

    /// <summary>
    /// Where MaskRcnn.Charts.dll and its dependencies are: $MASKRCNN_CHARTS_DIR, charts/ beside this library, or
    /// artifacts/charts/ of the repository.
    /// </summary>
    public static string? Folder()
    {
        var candidates = new List<string?> { RuntimeOptions.ChartsDir };
        string? dir = Path.GetDirectoryName(typeof(Charts).Assembly.Location);
        candidates.Add(dir is null ? null : Path.Combine(dir, "charts"));
        for (var d = dir is null ? null : new DirectoryInfo(dir); d is not null; d = d.Parent)
            candidates.Add(Path.Combine(d.FullName, "artifacts", "charts"));
        return candidates.FirstOrDefault(c => c is not null && File.Exists(Path.Combine(c, "MaskRcnn.Charts.dll")));
    }

    /// <summary>The chart for a notebook cell: the static picture, and the interactive chart that replaces
    /// it.</summary>
    public static ChartHtml Render(ChartSpec spec)
    {
        var resolved = spec.Resolved();
        byte[] png = StaticChart.Png(resolved);
        string id = $"maskrcnn-chart-{Interlocked.Increment(ref _counter)}-{Guid.NewGuid().ToString("N")[..8]}";
        var html = new StringBuilder();
        html.Append($"<div class=\"maskrcnn-chart\" id=\"{id}\" style=\"max-width:{resolved.Width}px\">");
        html.Append($"<img class=\"maskrcnn-chart-static\" alt=\"{WebUtility.HtmlEncode(resolved.Title)}\" ");
        html.Append($"width=\"{resolved.Width}\" height=\"{resolved.Height}\" ");
        html.Append($"src=\"data:image/png;base64,{Convert.ToBase64String(png)}\"/></div>");
        if (Interactive && Folder() is not null)
        {
            html.Append(LoaderOnce());
            html.Append(DrawScript(id, Library.Value.Figure(JsonSerializer.Serialize(resolved, Json))));
        }
        return new ChartHtml(html.ToString());
    }

    /// <summary>Several charts side by side in one output (wrapping to the next line where the page is narrow): small
    /// multiples, e.g. one panel per coordinate instead of four overlaid histograms.</summary>
    public static ChartHtml Row(params ChartSpec[] specs) =>
        new(
            "<div class=\"maskrcnn-chart-row\" style=\"display:flex;flex-wrap:wrap;gap:8px\">"
                + string.Concat(specs.Select(s => Render(s).Html))
                + "</div>"
        );

    /// <summary>The static picture alone, as PNG bytes.</summary>
    public static byte[] Png(ChartSpec spec) => StaticChart.Png(spec);

    /// <summary>
    /// A chart file: <c>.png</c> writes the static picture; any other extension a self-contained HTML page
    /// (plotly.js inlined).
    /// </summary>
    public static void Save(ChartSpec spec, string path)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        if (Path.GetExtension(path).Equals(".png", StringComparison.OrdinalIgnoreCase))
            File.WriteAllBytes(path, StaticChart.Png(spec));
        else
            File.WriteAllText(path, Library.Value.Page(JsonSerializer.Serialize(spec.Resolved(), Json)));
    }

    /// <summary>
    /// The script that makes plotly.js available to later chart outputs (window.maskrcnnPlotly, a promise of the
    /// Plotly object): plotly.js gzip-compressed and base64-encoded, unpacked by the browser's DecompressionStream.
    /// <see cref="Render"/> writes it into the first chart of the process; call this to write it again (for example
    /// after clearing that output).
    /// </summary>
    public static string PlotlyLoaderHtml()
    {
        var (source, version) = Library.Value.PlotlyJs();
        using var packed = new MemoryStream();
        using (var gzip = new GZipStream(packed, CompressionLevel.SmallestSize, leaveOpen: true))
            gzip.Write(Encoding.UTF8.GetBytes(source));
        string base64 = Convert.ToBase64String(packed.ToArray());
        // plotly.js is a UMD module: with require.js on the page (classic Jupyter) it would register as an AMD module
        // instead of setting window.Plotly, so define is hidden while it runs.
        return $$"""
            <script type="text/javascript" data-maskrcnn="plotly-loader" data-plotly-version="{{version}}">
            (function () {
              if (window.maskrcnnPlotly || typeof DecompressionStream === 'undefined') return;
              if (window.Plotly && window.Plotly.newPlot) { window.maskrcnnPlotly = Promise.resolve(window.Plotly); return; }
              var packed = "{{base64}}";
              window.maskrcnnPlotly = (async function () {
                var bytes = Uint8Array.from(atob(packed), function (c) { return c.charCodeAt(0); });
                var stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream('gzip'));
                var source = await new Response(stream).text();
                var amd = window.define;
                window.define = undefined;
                try {
                  var script = document.createElement('script');
                  script.text = source;
                  document.head.appendChild(script);
                } finally {
                  window.define = amd;
                }
                return window.Plotly;
              })().catch(function (e) { console.warn('maskrcnn: plotly.js did not load', e); return null; });
            })();
            </script>
            """;
    }

    static string LoaderOnce()
    {
        lock (Gate)
        {
            if (_loaderWritten)
                return "";
            _loaderWritten = true;
        }
        return PlotlyLoaderHtml();
    }

    /// <summary>Draws the figure into the chart's div once plotly.js is there, then hides the static picture.</summary>
    static string DrawScript(string id, string figureJson) =>
        $$"""
            <script type="text/javascript">
            (function () {
              var figure = {{figureJson}};
              var tries = 0;
              function draw(Plotly) {
                var host = document.getElementById('{{id}}');
                if (!Plotly || !host || host.querySelector('.maskrcnn-chart-plotly')) return;
                var target = document.createElement('div');
                target.className = 'maskrcnn-chart-plotly';
                host.appendChild(target);
                Plotly.newPlot(target, figure.data, figure.layout, { displaylogo: false }).then(function () {
                  var picture = host.querySelector('img.maskrcnn-chart-static');
                  if (picture) picture.style.display = 'none';
                }, function () { host.removeChild(target); });
              }
              (function wait() {
                if (window.Plotly && window.Plotly.newPlot) return draw(window.Plotly);
                if (window.maskrcnnPlotly) return window.maskrcnnPlotly.then(draw);
                if (++tries < 100) setTimeout(wait, 100);
              })();
            })();
            </script>
            """;

    /// <summary>MaskRcnn.Charts.dll's three entry points, loaded in their own context.</summary>
    sealed class ChartsLibrary(Func<string, string> figure, Func<string, string> page, Func<(string, string)> plotlyJs)
    {
        public string Figure(string spec) => figure(spec);

        public string Page(string spec) => page(spec);

        public (string Source, string Version) PlotlyJs() => plotlyJs();

        public static ChartsLibrary Load()
        {
            string folder =
                Folder()
                ?? throw new MaskRcnnException(
                    "interactive charts are unavailable: MaskRcnn.Charts.dll was not found (build the solution; it is "
                        + "written to artifacts/charts/ and copied as charts/ next to MaskRcnn.Core.dll)"
                );
            var context = new ChartsLoadContext(folder);
            var assembly = context.LoadFromAssemblyPath(Path.Combine(folder, "MaskRcnn.Charts.dll"));
            var type =
                assembly.GetType("MaskRcnn.Charts.Renderer")
                ?? throw new MaskRcnnException($"{folder}: MaskRcnn.Charts.dll has no Renderer");
            MethodInfo Method(string name) =>
                type.GetMethod(name, BindingFlags.Public | BindingFlags.Static)
                ?? throw new MaskRcnnException($"{folder}: MaskRcnn.Charts.dll has no Renderer.{name}");
            var figure = Method("Figure");
            var page = Method("Page");
            var plotly = Method("PlotlyJs");
            object? Call(MethodInfo m, object?[] args)
            {
                try
                {
                    return m.Invoke(null, args);
                }
                catch (TargetInvocationException e) when (e.InnerException is not null)
                {
                    throw new MaskRcnnException($"chart failed: {e.InnerException.Message}", e.InnerException);
                }
            }
            return new ChartsLibrary(
                spec => (string)Call(figure, [spec])!,
                spec => (string)Call(page, [spec])!,
                () =>
                {
                    var tuple = (Tuple<string, string>)Call(plotly, [])!;
                    return (tuple.Item1, tuple.Item2);
                }
            );
        }
    }

    /// <summary>Resolves every assembly present in the charts folder from there (its FSharp.Core first), the rest from
    /// the default context.</summary>
    sealed class ChartsLoadContext(string folder) : AssemblyLoadContext("MaskRcnn.Charts", isCollectible: false)
    {
        protected override Assembly? Load(AssemblyName name)
        {
            string path = Path.Combine(folder, name.Name + ".dll");
            return File.Exists(path) ? LoadFromAssemblyPath(path) : null;
        }
    }
}
