using MaskRcnn.Data;
using MaskRcnn.Data.Via;
using MaskRcnn.Runtime;

namespace MaskRcnn.Tests.Data;

/// <summary>
/// The real VIA files in ../shared/reference/real-via (public exports with real quirks) load, and their counts
/// equal MANIFEST.tsv's. Skipped where that folder is not present (it is reference material, not project data).
/// </summary>
public class RealViaTests
{
    public static string? Folder()
    {
        string?[] candidates =
        [
            RuntimeOptions.RealViaFolder,
            Path.Combine(TestSupport.RepoRoot, "..", "shared", "reference", "real-via"),
            "/work/shared/reference/real-via",
        ];
        return candidates.FirstOrDefault(c => c is not null && File.Exists(Path.Combine(c, "MANIFEST.tsv")));
    }

    public static IEnumerable<string> Files() =>
        Folder() is string dir ? Directory.GetFiles(dir, "*.json").Order() : [];

    [SkippableFact]
    public void Every_file_loads_with_the_manifest_counts()
    {
        var dir = Folder();
        Skip.If(dir is null, "../shared/reference/real-via is not present");
        var lines = File.ReadAllLines(Path.Combine(dir!, "MANIFEST.tsv"))
            .Skip(1)
            .Where(l => l.Trim().Length > 0)
            .ToList();
        Assert.True(lines.Count >= 10);
        foreach (var line in lines)
        {
            var f = line.Split('\t');
            string file = Path.Combine(dir!, f[0]);
            string flavour = f[4];
            if (flavour == "3.x-project" && f[8].Contains("temporal_segment"))
            {
                // a video project: refused cleanly
                var e = Assert.Throws<ViaFormatException>(() => ViaReader.Read(file));
                Assert.Contains(f[0], e.Message);
                continue;
            }
            var doc = ViaReader.Read(file);
            var summary = ViaInspection.Summarize(doc);
            Assert.Equal(flavour, summary.Format);
            Assert.Equal(int.Parse(f[5]), summary.Images);
            Assert.Equal(int.Parse(f[6]), summary.ImagesWithRegions);
            Assert.Equal(int.Parse(f[7]), summary.Regions);
            var shapes =
                f[8] == "-"
                    ? new Dictionary<string, int>()
                    : f[8].Split(';').Select(p => p.Split(':')).ToDictionary(p => p[0], p => int.Parse(p[1]));
            Assert.Equal(shapes.OrderBy(kv => kv.Key), summary.Shapes.OrderBy(kv => kv.Key));
        }
    }

    [SkippableFact]
    public void Quirks_are_handled_labels_with_spaces_size_minus_one_and_paths()
    {
        var dir = Folder();
        Skip.If(dir is null, "../shared/reference/real-via is not present");
        var shiv = ViaInspection.Summarize(
            ViaReader.Read(Path.Combine(dir!, "shivvignesh__Image-annotations.-__via_export_json.json"))
        );
        Assert.Equal("Label", shiv.LabelKey);
        Assert.True(shiv.Classes.ContainsKey("right")); // "Right " normalised
        var camfi = ViaReader.Read(
            Path.Combine(dir!, "J-Wall__camfi__camfi__test__data__sample_project_no_metadata.json")
        );
        Assert.All(camfi.Images, i => Assert.Null(i.FileSize)); // size: -1
    }
}
