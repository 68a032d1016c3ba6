using System.Text.Json;
using System.Text.RegularExpressions;

namespace MaskRcnn.Tests.Visualization;

/// <summary>
/// environment/slides.sh turns notebooks/01_rcnn_evolution.ipynb into a reveal.js deck that needs no network: every
/// script and style sheet comes from the deck's folder, and in headless Chromium reveal.js starts and lays out at least
/// one slide per cell the notebook marks as a slide or sub-slide. Needs jupyter-nbconvert, Chromium and npm (the
/// script installs reveal.js from the npm registry once); skipped without them unless MASKRCNN_REQUIRE_BROWSER=1.
/// </summary>
public class SlidesTests
{
    static string Script => Path.Combine(TestSupport.RepoRoot, "environment", "slides.sh");
    static string Notebook => Path.Combine(TestSupport.RepoRoot, "notebooks", "01_rcnn_evolution.ipynb");

    static void SkipWithoutTools()
    {
        string[] tools = ["chromium", "jupyter-nbconvert", "npm"];
        var path = MaskRcnn.Runtime.RuntimeOptions.ExecutableSearchPath;
        var missing = tools.Where(t => !path.Any(d => File.Exists(Path.Combine(d, t)))).ToList();
        if (missing.Count > 0 && MaskRcnn.Runtime.RuntimeOptions.RequireBrowser)
            Assert.Fail($"{string.Join(", ", missing)} missing (MASKRCNN_REQUIRE_BROWSER=1)");
        Skip.If(missing.Count > 0, $"{string.Join(", ", missing)} not installed");
    }

    static int MarkedSlides()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Notebook));
        return doc
            .RootElement.GetProperty("cells")
            .EnumerateArray()
            .Count(c =>
                c.GetProperty("metadata").TryGetProperty("slideshow", out var s)
                && s.GetProperty("slide_type").GetString() is "slide" or "subslide"
            );
    }

    [SkippableFact]
    public void The_01_notebook_becomes_an_offline_reveal_deck_that_starts_in_a_browser()
    {
        SkipWithoutTools();
        using var tmp = new TestSupport.TempDir();
        var build = TestSupport.Run("bash", [Script, Notebook, tmp.Path]);
        Assert.True(build.Code == 0, build.Err);
        string deck = Path.Combine(tmp.Path, "01_rcnn_evolution.slides.html");
        Assert.True(File.Exists(deck), build.Out + build.Err);
        Assert.True(File.Exists(Path.Combine(tmp.Path, "reveal.js", "dist", "reveal.js")));

        // Offline: no script or style sheet from the network.
        string html = File.ReadAllText(deck);
        var remote = Regex.Matches(html, @"<(script|link)\b[^>]*(src|href)=""(https?:)?//[^""]*""");
        Assert.True(remote.Count == 0, string.Join("\n", remote.Select(m => m.Value)));

        var check = TestSupport.Run("bash", [Script, "--check", deck]);
        Assert.True(check.Code == 0, check.Out + check.Err);
        var ready = Regex.Match(check.Out, @"reveal\.js ready: (\d+) slides");
        Assert.True(ready.Success, check.Out);
        int slides = int.Parse(ready.Groups[1].Value);
        int marked = MarkedSlides();
        Assert.True(marked >= 10, $"01 marks only {marked} cells as slides or sub-slides");
        Assert.True(slides >= marked, $"{slides} slides laid out for {marked} marked cells");
    }

    [Fact]
    public void A_missing_notebook_is_one_error_line()
    {
        var run = TestSupport.Run("bash", [Script, "/nonexistent/x.ipynb"]);
        Assert.Equal(1, run.Code);
        Assert.Equal("slides: /nonexistent/x.ipynb: no such file", run.Err.Trim());
    }
}
