using System.Diagnostics;
using System.Text.Json;
using MaskRcnn.Runtime;
using MaskRcnn.Visualization;
using static TorchSharp.torch;

namespace MaskRcnn.Tests.Visualization;

/// <summary>
/// environment/check_rendered.py, the check CI runs on every notebook, against small notebooks made here: our chart
/// outputs pass (static picture without scripts, Plotly drawn with them), a chart drawn only by script fails, and so
/// does a blank picture. Needs jupyter-nbconvert, Chromium and python3-pil (CI installs them; set
/// MASKRCNN_REQUIRE_BROWSER=1 to fail instead of skipping without them).
/// </summary>
public class RenderedNotebookTests
{
    static string Checker => Path.Combine(TestSupport.RepoRoot, "environment", "check_rendered.py");

    static void SkipWithoutBrowser()
    {
        bool present =
            File.Exists("/usr/bin/python3")
            && new[] { "chromium", "jupyter-nbconvert" }.All(tool =>
                RuntimeOptions.ExecutableSearchPath.Any(d => File.Exists(Path.Combine(d, tool)))
            );
        if (!present && RuntimeOptions.RequireBrowser)
            Assert.Fail("chromium, jupyter-nbconvert or /usr/bin/python3 is missing (MASKRCNN_REQUIRE_BROWSER=1)");
        Skip.IfNot(present, "chromium / jupyter-nbconvert not installed");
    }

    static string Notebook(string folder, params string[] htmlOutputs)
    {
        var cells = htmlOutputs
            .Select(
                (html, i) =>
                    new Dictionary<string, object>
                    {
                        ["cell_type"] = "code",
                        ["execution_count"] = i + 1,
                        ["id"] = $"cell{i}",
                        ["metadata"] = new Dictionary<string, object>(),
                        ["source"] = new[] { $"// output {i}" },
                        ["outputs"] = new object[]
                        {
                            new Dictionary<string, object>
                            {
                                ["output_type"] = "display_data",
                                ["metadata"] = new Dictionary<string, object>(),
                                ["data"] = new Dictionary<string, object> { ["text/html"] = html },
                            },
                        },
                    }
            )
            .ToList();
        var nb = new Dictionary<string, object>
        {
            ["nbformat"] = 4,
            ["nbformat_minor"] = 5,
            ["metadata"] = new Dictionary<string, object>(),
            ["cells"] = cells,
        };
        string path = Path.Combine(folder, "check.ipynb");
        File.WriteAllText(path, JsonSerializer.Serialize(nb));
        return path;
    }

    static (int Code, string Output) Check(string notebook)
    {
        var psi = new ProcessStartInfo("/usr/bin/python3")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        psi.ArgumentList.Add(Checker);
        psi.ArgumentList.Add(notebook);
        using var p = Process.Start(psi)!;
        string stdout = p.StandardOutput.ReadToEnd() + p.StandardError.ReadToEnd();
        Assert.True(p.WaitForExit(TimeSpan.FromMinutes(5)), "the check did not finish");
        return (p.ExitCode, stdout);
    }

    static ChartSpec Spec =>
        ChartSpec.Lines(
            "a test chart",
            "x (units)",
            "y (units)",
            new ChartSeries("y = x²", X: [0, 1, 2, 3], Y: [0, 1, 4, 9])
        );

    [SkippableFact]
    public void Our_chart_and_picture_outputs_are_visible_with_and_without_scripts()
    {
        SkipWithoutBrowser();
        using var tmp = new TestSupport.TempDir();
        using var scope = NewDisposeScope();
        string chart = Charts.PlotlyLoaderHtml() + Charts.Render(Spec).Html;
        string picture = Draw.Image(rand(3, 64, 96), "noise").ToHtml();
        var (code, output) = Check(Notebook(tmp.Path, chart, picture));
        Assert.True(code == 0, output);
        Assert.Contains("1 picture(s) and 1 interactive chart(s) visible", output);
    }

    [SkippableFact]
    public void A_chart_drawn_only_by_script_fails_the_check()
    {
        SkipWithoutBrowser();
        using var tmp = new TestSupport.TempDir();
        // What Plotly.NET's toChartHTML gives: a div and a script calling Plotly.newPlot, no picture.
        const string scriptOnly =
            "<div id=\"c1\"></div><script type=\"text/javascript\">"
            + "Plotly.newPlot('c1', [{x: [1, 2], y: [3, 4]}], {title: 'blank'});</script>";
        var (code, output) = Check(Notebook(tmp.Path, scriptOnly));
        Assert.Equal(1, code);
        Assert.Contains("cell 0 output 0 (no scripts): the chart is drawn only by script", output);
        Assert.Contains("cell 0 output 0 (browser): nothing visible", output);
    }

    [SkippableFact]
    public void A_blank_picture_fails_the_check()
    {
        SkipWithoutBrowser();
        using var tmp = new TestSupport.TempDir();
        using var scope = NewDisposeScope();
        string blank = Draw.Image(ones(3, 64, 96), "white").ToHtml();
        var (code, output) = Check(Notebook(tmp.Path, blank));
        Assert.Equal(1, code);
        Assert.Contains("picture 1 is blank", output);
    }
}
