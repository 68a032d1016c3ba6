using System.Text.RegularExpressions;

namespace MaskRcnn.Tests;

/// <summary>Rules of the house that the sources themselves must keep (lib/README.md).</summary>
public class SourceRulesTests
{
    static string Lib => Path.Combine(TestSupport.RepoRoot, "lib");

    static IEnumerable<string> Sources(string folder) =>
        Directory
            .EnumerateFiles(folder, "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}"))
            .Order(StringComparer.Ordinal);

    static string Relative(string path) => Path.GetRelativePath(TestSupport.RepoRoot, path).Replace('\\', '/');

    /// <summary>
    /// How layers compute (the speed kernels, oneMKL), the garbage collector, the allocator, native start-up, the
    /// memory layout and the number format (autocast, conversions to full precision): what only the layer factory,
    /// the kernels and Runtime/ may name.
    /// </summary>
    static readonly Regex RuntimeConcern = new(
        @"Winograd|FlattenedLinear|BatchedSgemm|MklDispatch|oneMKL|oneDNN"
            + @"|GcPause|\bGC\b|GCSettings|garbage collect|ProcessHooks"
            + @"|MemoryRelease|malloc|glibc|allocator"
            + @"|TorchEnvironment|NativeRuntime|NativeLibrary|DllImport|LibraryImport"
            + @"|ChannelsLast|channels-last|channels_last|memory layout"
            + @"|Autocast|autocast|FullPrecision",
        RegexOptions.IgnoreCase
    );

    /// <summary>Lines of <paramref name="files"/> that match <paramref name="pattern"/>, as "file:line: text".</summary>
    static List<string> Offenders(IEnumerable<string> files, Regex pattern) =>
        files
            .SelectMany(f => File.ReadLines(f).Select((line, i) => (File: Relative(f), Line: i + 1, Text: line)))
            .Where(l => pattern.IsMatch(l.Text))
            .Select(l => $"{l.File}:{l.Line}: {l.Text.Trim()}")
            .ToList();

    [Fact]
    public void Model_files_name_no_runtime_concern()
    {
        // The model reads as Mask R-CNN: only the layer factory and Kernels/ know how layers compute, how memory is
        // held and in which number format; what the process does around the model's work is Runtime/ModelCalls'.
        var modeling = Path.Combine(Lib, "MaskRcnn", "Modeling");
        var modelFiles = Sources(modeling)
            .Where(f =>
                Relative(f) is not "lib/MaskRcnn/Modeling/Layers.cs"
                && !Relative(f).StartsWith("lib/MaskRcnn/Modeling/Kernels/")
            )
            .ToList();
        Assert.Contains(modelFiles, f => f.EndsWith("MaskRCNN.cs")); // the rule looks where the model is
        var offenders = Offenders(modelFiles, RuntimeConcern);
        Assert.True(offenders.Count == 0, string.Join("\n", offenders));
    }

    [Fact]
    public void The_rule_finds_what_it_forbids()
    {
        string[] forbidden =
        [
            "using var gcPause = GcPause.Enter();",
            "GC.Collect();",
            "ProcessHooks.EndInferenceCall();",
            "MemoryRelease.AfterTrainingEpoch();",
            "TorchEnvironment.Initialize();",
            "x = x.ChannelsLast();",
            "using var fullPrecision = Autocast.Suspend(x.device_type);",
            "x = x.flatten(1).FullPrecision();",
            "new WinogradConv2d(128, 128)",
        ];
        Assert.All(forbidden, line => Assert.Matches(RuntimeConcern, line));
        Assert.DoesNotMatch(RuntimeConcern, "using var call = ModelCalls.Inference();");
        Assert.DoesNotMatch(RuntimeConcern, "cls_logits = Layers.OutputConv1x1(inChannels, numAnchors);");
    }

    [Fact]
    public void Only_RuntimeOptions_reads_the_environment()
    {
        // Every environment variable the library, the CLI, the notebooks' set-up and the tests read is read there,
        // where each is documented; the tests set MASKRCNN_* switches only for the CLI processes they start.
        var library = Sources(Lib).Append(Path.Combine(TestSupport.RepoRoot, "notebooks", "setup.csx"));
        var tests = Sources(Path.Combine(TestSupport.RepoRoot, "tests"))
            .Where(f => Relative(f) != "tests/MaskRcnn.Tests/SourceRulesTests.cs");
        var readers = library
            .Where(f => Regex.IsMatch(File.ReadAllText(f), @"GetEnvironmentVariables?\(|""MASKRCNN_[A-Z_]+"""))
            .Concat(tests.Where(f => Regex.IsMatch(File.ReadAllText(f), @"GetEnvironmentVariables?\(")))
            .Select(Relative)
            .ToList();
        Assert.Equal(["lib/MaskRcnn/Runtime/RuntimeOptions.cs"], readers);
    }
}
