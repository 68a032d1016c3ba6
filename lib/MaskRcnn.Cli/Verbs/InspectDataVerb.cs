using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Nodes;
using MaskRcnn.Config;
using MaskRcnn.Data;
using MaskRcnn.Data.Via;
using MaskRcnn.IO;
using MaskRcnn.Tuning;

namespace MaskRcnn.Cli.Verbs;

/// <summary><c>maskrcnn inspect-data --annotations FILE [--images DIR] --json OUT [--label-key K] [--classes
/// a,b] [--preset P | --config FILE] [--suggest-anchors]</c>; with --preset, --config or --suggest-anchors also how the
/// configuration's anchors fit the lesions after its resize (<see cref="AnchorFit"/>).</summary>
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
        var preset = new Option<string?>("--preset")
        {
            Description =
                $"also fit the anchors of this preset ({string.Join(", ", Presets.Names)}) to the lesions, "
                + "after its resize",
        };
        var config = new Option<string?>("--config") { Description = "also fit the anchors of this config file" };
        var suggest = new Option<bool>("--suggest-anchors")
        {
            Description =
                "propose anchor sizes and ratios that cover the lesions (for --preset/--config; default "
                + "cpu-quick)",
        };
        var cmd = new Command(
            "inspect-data",
            "Count what a VIA annotation file contains and list its problems; with --preset, --config or "
                + "--suggest-anchors, how the anchors fit the lesions' sizes and shapes after the resize."
        )
        {
            annotations,
            images,
            json,
            labelKey,
            classes,
            preset,
            config,
            suggest,
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
                if (r.GetValue(preset) is not null && r.GetValue(config) is not null)
                    throw new ArgumentException("--preset and --config both choose the configuration: give one");
                bool anchors = r.GetValue(preset) is not null || r.GetValue(config) is not null || r.GetValue(suggest);
                var model = r.GetValue(config) is string file
                    ? MaskRcnnConfig.Load(file)
                    : Presets.Get(r.GetValue(preset) ?? "cpu-quick");
                var summary = ViaInspection.Summarize(doc, r.GetValue(images), options);
                var jsonOptions = new JsonSerializerOptions
                {
                    WriteIndented = true,
                    Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
                };
                var node = JsonSerializer.SerializeToNode(summary, jsonOptions)!.AsObject();
                AnchorFitReport? fit = null;
                AnchorSuggestion? suggestion = null;
                if (anchors)
                {
                    Verbs.InitializeTorch(0); // the model's anchor generator and box IoU
                    var dir = r.GetValue(images) ?? Path.GetDirectoryName(Path.GetFullPath(doc.Source))!;
                    var lesions = LesionGeometry.Of(DatasetLoader.FromDocument(doc, dir, options), model);
                    fit = AnchorFit.Analyze(lesions, model);
                    node["anchor_fit"] = JsonSerializer.SerializeToNode(fit, jsonOptions);
                    if (r.GetValue(suggest))
                    {
                        suggestion = AnchorSuggestions.Suggest(lesions, model);
                        node["suggested_anchors"] = JsonSerializer.SerializeToNode(suggestion, jsonOptions);
                    }
                }
                var text = node.ToJsonString(jsonOptions);
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
                if (fit is not null)
                    PrintFit(fit, r.GetValue(config) ?? r.GetValue(preset) ?? "cpu-quick");
                if (suggestion is not null)
                    PrintSuggestion(suggestion);
                return 0;
            })
        );
        return cmd;
    }

    static void PrintFit(AnchorFitReport fit, string name)
    {
        Console.WriteLine(
            $"  anchors of {name} (min_size {fit.MinSize}, max_size {fit.MaxSize}): sizes {Levels(fit.AnchorSizes)}, "
                + $"ratios h/w {string.Join("/", fit.AspectRatios[0])}"
        );
        if (fit.Size is { } size && fit.AspectRatio is { } ratio)
        {
            Console.WriteLine(
                $"    {fit.Lesions} lesions after the resize: size √(w·h) {size.P05:F0} / {size.Median:F0} / "
                    + $"{size.P95:F0} px, aspect ratio h/w {ratio.P05:F2} / {ratio.Median:F2} / {ratio.P95:F2} "
                    + "(5 % / median / 95 %)"
            );
            Console.WriteLine(
                $"    with an anchor at IoU ≥ {fit.PositiveIou}: {fit.ShareMatched:P0}; median best IoU "
                    + $"{fit.MedianBestIou:F2}; best anchor per level: {string.Join(", ", fit.PerLevel)}"
            );
        }
        foreach (var warning in fit.Warnings)
            Console.WriteLine($"    warning: {warning}");
    }

    static void PrintSuggestion(AnchorSuggestion s)
    {
        Console.WriteLine(
            $"  suggested anchors: \"anchor_sizes\": {JsonSerializer.Serialize(s.AnchorSizes)}, \"aspect_ratios\": "
                + $"{JsonSerializer.Serialize(s.AspectRatios)}"
        );
        Console.WriteLine(
            $"    with an anchor at IoU ≥ {s.Fit.PositiveIou}: {s.Fit.ShareMatched:P0} (now {s.Current.ShareMatched:P0}); "
                + $"median best IoU {s.Fit.MedianBestIou:F2} (now {s.Current.MedianBestIou:F2})"
        );
        int anchors = s.AnchorSizes[0].Length * s.AspectRatios[0].Length;
        int before = s.Current.AnchorSizes[0].Length * s.Current.AspectRatios[0].Length;
        if (anchors != before)
            Console.WriteLine(
                $"    note: {anchors} anchors per location instead of {before}: the RPN head's last layers change shape, "
                    + "so pretrained RPN weights for them are not loaded"
            );
    }

    static string Levels(double[][] sizes) => string.Join(" / ", sizes.Select(l => string.Join(",", l)));
}
