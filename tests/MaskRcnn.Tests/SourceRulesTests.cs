using System.Text.RegularExpressions;

namespace MaskRcnn.Tests;

/// <summary>Rules of the house that the sources themselves must keep (lib/README.md).</summary>
public class SourceRulesTests
{
    static string Lib => Path.Combine(TestSupport.RepoRoot, "lib");

    static IEnumerable<string> Sources(string folder) =>
        Directory.EnumerateFiles(folder, "*.cs", SearchOption.AllDirectories).Order(StringComparer.Ordinal);

    static string Relative(string path) => Path.GetRelativePath(TestSupport.RepoRoot, path).Replace('\\', '/');

    [Fact]
    public void Model_files_name_no_speed_up()
    {
        // The model reads as Mask R-CNN: only the layer factory and Kernels/ know how layers compute or how memory is held.
        var modeling = Path.Combine(Lib, "MaskRcnn", "Modeling");
        var speedUp = new Regex(@"Winograd|MklDispatch|oneMKL|MemoryRelease|malloc|glibc");
        var offenders = Sources(modeling)
            .Where(f =>
                Relative(f) is not "lib/MaskRcnn/Modeling/Layers.cs"
                && !Relative(f).StartsWith("lib/MaskRcnn/Modeling/Kernels/")
            )
            .SelectMany(f => File.ReadLines(f).Select((line, i) => (File: Relative(f), Line: i + 1, Text: line)))
            .Where(l => speedUp.IsMatch(l.Text))
            .Select(l => $"{l.File}:{l.Line}: {l.Text.Trim()}")
            .ToList();
        Assert.True(offenders.Count == 0, string.Join("\n", offenders));
    }

    [Fact]
    public void Only_RuntimeOptions_reads_MASKRCNN_switches()
    {
        var readers = Sources(Lib)
            .Append(Path.Combine(TestSupport.RepoRoot, "notebooks", "setup.csx"))
            .Where(f => File.ReadAllText(f).Contains("\"MASKRCNN_"))
            .Select(Relative)
            .ToList();
        Assert.Equal(["lib/MaskRcnn/Runtime/RuntimeOptions.cs"], readers);
    }
}
