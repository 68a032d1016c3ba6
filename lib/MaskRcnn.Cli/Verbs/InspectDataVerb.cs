using System.CommandLine;
using System.Text.Json;
using MaskRcnn.Data;
using MaskRcnn.Data.Via;
using MaskRcnn.IO;

namespace MaskRcnn.Cli.Verbs;

/// <summary><c>maskrcnn inspect-data --annotations FILE [--images DIR] --json OUT [--label-key K] [--classes
/// a,b]</c></summary>
static class InspectDataVerb
{
    public static Command Create()
    {
        var annotations = new Option<string>("--annotations")
        {
            Description = "a VIA file (1.x/2.x export, 2.x or 3.x project)",
            Required = true,
        };
        var images = new Option<string?>("--images")
        {
            Description = "folder with the images (checks they exist, decode in full and fit the shapes)",
        };
        var json = new Option<string?>("--json") { Description = "write the summary as JSON here" };
        var labelKey = new Option<string?>("--label-key")
        {
            Description = "region attribute holding the class (default: detected)",
        };
        var classes = new Option<string>("--classes")
        {
            Description = "comma-separated class names",
            DefaultValueFactory = _ => "benign,malignant",
        };
        var cmd = new Command("inspect-data", "Count what a VIA annotation file contains and list its problems.")
        {
            annotations,
            images,
            json,
            labelKey,
            classes,
        };
        cmd.SetAction(r =>
            Verbs.Run(() =>
            {
                if (r.GetValue(json) is string target)
                    Verbs.CheckOutput(target, "--json", r.GetValue(annotations));
                var doc = ViaReader.Read(r.GetValue(annotations)!);
                var options = new LabelOptions(
                    r.GetValue(classes)!
                        .Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries),
                    r.GetValue(labelKey)
                );
                var summary = ViaInspection.Summarize(doc, r.GetValue(images), options);
                var text = JsonSerializer.Serialize(
                    summary,
                    new JsonSerializerOptions
                    {
                        WriteIndented = true,
                        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
                    }
                );
                if (r.GetValue(json) is string outPath)
                    AtomicFile.WriteAllText(outPath, text);
                Console.WriteLine(
                    $"{doc.Source}: VIA {summary.Format}, {summary.Images} images ({summary.ImagesWithRegions} with "
                        + $"regions), {summary.Regions} regions"
                );
                Console.WriteLine(
                    $"  shapes:  {string.Join(", ", summary.Shapes.Select(kv => $"{kv.Key} {kv.Value}"))}"
                );
                string classNames = string.Join(", ", summary.Classes.Select(kv => $"{kv.Key} {kv.Value}"));
                string labelSource = summary.LabelKey is null ? "" : $"  (from '{summary.LabelKey}')";
                Console.WriteLine($"  classes: {classNames}{labelSource}");
                static string Count(int n, string what) => $"{n} {what}{(n == 1 ? "" : "s")}";
                string unchecked_ = r.GetValue(images) is null
                    ? " (without --images the image files are not checked)"
                    : "";
                string leftOut = $"{Count(summary.ImagesSkipped, "image")}, {Count(summary.RegionsSkipped, "region")}";
                Console.WriteLine($"  problems: {summary.Problems.Count}; left out: {leftOut}{unchecked_}");
                Verbs.PrintProblems(summary.Problems, r.GetValue(json) ?? "the JSON (--json)", indent: "    ");
                return 0;
            })
        );
        return cmd;
    }
}
