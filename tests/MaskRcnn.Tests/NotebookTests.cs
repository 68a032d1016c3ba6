using System.Text.Json;

namespace MaskRcnn.Tests;

/// <summary>The notebooks' structure (always) and, once environment/run-notebooks.sh has run, their executed copies.</summary>
public class NotebookTests
{
    static string Folder => Path.Combine(TestSupport.RepoRoot, "notebooks");
    static IEnumerable<string> Sources => Directory.GetFiles(Folder, "*.ipynb").Order();
    public static IEnumerable<object[]> Names => Sources.Select(s => new object[] { Path.GetFileName(s) });

    [Fact]
    public void Notebooks_are_numbered_from_00_environment()
    {
        var names = Sources.Select(Path.GetFileName).ToList();
        Assert.Equal("00_environment.ipynb", names[0]);
        Assert.True(names.Count >= 9, string.Join(", ", names));
        Assert.All(names, n => Assert.Matches(@"^\d\d_[a-z_]+\.ipynb$", n!));
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void Metadata_opens_in_vs_code_and_jupyter(string name)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(Folder, name)));
        var root = doc.RootElement;
        Assert.Equal(4, root.GetProperty("nbformat").GetInt32());
        Assert.True(root.GetProperty("nbformat_minor").GetInt32() >= 5);
        var meta = root.GetProperty("metadata");
        Assert.Equal(".net-csharp", meta.GetProperty("kernelspec").GetProperty("name").GetString());
        Assert.Equal("C#", meta.GetProperty("kernelspec").GetProperty("language").GetString());
        Assert.Equal("csharp", meta.GetProperty("polyglot_notebook").GetProperty("kernelInfo").GetProperty("defaultKernelName").GetString());
        var ids = root.GetProperty("cells").EnumerateArray().Select(c => c.GetProperty("id").GetString()).ToList();
        Assert.Equal(ids.Count, ids.Distinct().Count());
        string Text(Func<JsonElement, bool> which) => string.Concat(root.GetProperty("cells").EnumerateArray().Where(which)
            .SelectMany(c => c.GetProperty("source").EnumerateArray().Select(l => l.GetString())));
        var text = Text(_ => true);
        Assert.DoesNotContain("nuget: TorchSharp", Text(c => c.GetProperty("cell_type").GetString() == "code"));   // never a second libtorch in the kernel
        Assert.Contains("Look at", text);                                    // figures say what to look at
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void Executed_copy_has_no_errors_and_shows_figures_and_charts(string name)
    {
        string executed = Path.Combine(Folder, "out", name);
        bool required = Environment.GetEnvironmentVariable("MASKRCNN_REQUIRE_EXECUTED_NOTEBOOKS") == "1";
        if (!File.Exists(executed) || File.GetLastWriteTimeUtc(executed) < File.GetLastWriteTimeUtc(Path.Combine(Folder, name)))
        {
            Assert.False(required, $"{executed} is missing or older than its source: run environment/run-notebooks.sh");
            return;   // not executed yet in this checkout (CI runs this test again after the notebooks)
        }
        using var doc = JsonDocument.Parse(File.ReadAllText(executed));
        var outputs = doc.RootElement.GetProperty("cells").EnumerateArray()
            .Where(c => c.GetProperty("cell_type").GetString() == "code")
            .SelectMany(c => c.GetProperty("outputs").EnumerateArray()).ToList();
        Assert.DoesNotContain(outputs, o => o.GetProperty("output_type").GetString() == "error");
        Assert.DoesNotContain(outputs, o => o.TryGetProperty("name", out var n) && n.GetString() == "stderr" && o.GetRawText().Contains("Exception"));
        string all = string.Concat(outputs.Select(o => o.GetRawText()));
        Assert.True(all.Contains("data:image/png;base64"), $"{name}: no PNG figure in its outputs");
        Assert.True(all.Contains("plotly", StringComparison.OrdinalIgnoreCase), $"{name}: no Plotly chart in its outputs");
    }
}
