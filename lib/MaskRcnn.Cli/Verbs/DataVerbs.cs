using System.CommandLine;
using MaskRcnn.Data;
using MaskRcnn.Data.Busi;
using MaskRcnn.Data.Coco;
using MaskRcnn.IO;

namespace MaskRcnn.Cli.Verbs;

/// <summary><c>import-busi</c> and <c>export-coco</c>.</summary>
static class DataVerbs
{
    public static Command ImportBusi()
    {
        var busi = new Option<string>("--busi")
        {
            Description = "the BUSI folder (with benign/, malignant/, normal/)",
            Required = true,
        };
        var outDir = new Option<string>("--out")
        {
            Description = "data folder to write (train/, val/, test/)",
            Required = true,
        };
        var seed = new Option<ulong>("--seed")
        {
            Description = "seed of the stratified split",
            DefaultValueFactory = _ => 0,
        };
        var overwrite = OverwriteOption();
        var cmd = new Command(
            "import-busi",
            "Convert the BUSI dataset (image + mask PNGs) into a data folder with VIA polygons."
        )
        {
            busi,
            outDir,
            seed,
            overwrite,
        };
        cmd.SetAction(r =>
            Verbs.Run(() =>
            {
                string target = r.GetValue(outDir)!;
                if (SameOrInside(target, r.GetValue(busi)!))
                    throw new MaskRcnnException($"--out: {target} is, or is inside, the BUSI folder it reads; refused");
                var report = DataFolders.Write(
                    target,
                    r.GetValue(overwrite),
                    staging => BusiImporter.Import(r.GetValue(busi)!, staging, r.GetValue(seed))
                );
                Console.WriteLine($"images: {string.Join(", ", report.Images.Select(kv => $"{kv.Key} {kv.Value}"))}");
                Console.WriteLine(
                    $"instances: {string.Join(", ", report.Instances.Select(kv => $"{kv.Key} {kv.Value}"))}"
                );
                Console.WriteLine($"problems: {report.Problems.Count}");
                foreach (var p in report.Problems.Take(20))
                    Console.WriteLine($"  {Printable.Escape(p.ToString())}");
                return 0;
            })
        );
        return cmd;
    }

    public static Command ExportCoco()
    {
        var data = new Option<string>("--data") { Description = "data folder", Required = true };
        var split = new Option<string>("--split")
        {
            Description = "train, val or test",
            DefaultValueFactory = _ => "test",
        };
        var output = new Option<string>("--out") { Description = "COCO instances JSON to write", Required = true };
        var rle = new Option<bool>("--rle") { Description = "write masks as RLE instead of polygons" };
        var classes = new Option<string>("--classes")
        {
            Description = "comma-separated class names",
            DefaultValueFactory = _ => "benign,malignant",
        };
        var labelKey = Verbs.LabelKeyOption();
        var cmd = new Command(
            "export-coco",
            "Write a data-folder split as COCO instances JSON (ground truth for any COCO tool)."
        )
        {
            data,
            split,
            output,
            rle,
            classes,
            labelKey,
        };
        cmd.SetAction(r =>
            Verbs.Run(() =>
            {
                string target = r.GetValue(output)!;
                string annotations = Path.Combine(r.GetValue(data)!, r.GetValue(split)!, DatasetLoader.AnnotationFile);
                Verbs.CheckOutput(target, "--out", annotations);
                var labels = new LabelOptions(
                    r.GetValue(classes)!
                        .Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries),
                    r.GetValue(labelKey)
                );
                var ds = DatasetLoader.LoadSplit(r.GetValue(data)!, r.GetValue(split)!, labels);
                CocoInstances.Write(r.GetValue(output)!, ds, r.GetValue(rle));
                Console.WriteLine(
                    $"wrote {ds.Count} images, {ds.Images.Sum(i => i.Instances.Count)} instances to "
                        + $"{r.GetValue(output)} ({ds.Problems.Count} problems)"
                );
                return 0;
            })
        );
        return cmd;
    }

    /// <summary>
    /// --overwrite for the verbs that write data folders: without it, a folder holding data (a split, an annotation
    /// file, images) is refused, so hours of hand annotation are not replaced by a forgotten path.
    /// </summary>
    public static Option<bool> OverwriteOption() =>
        new("--overwrite")
        {
            Description =
                "replace the splits (train/, val/, test/) of a folder that already holds data; without it such a "
                + "folder is refused",
        };

    /// <summary>True when <paramref name="path"/> is <paramref name="folder"/> or lies inside it.</summary>
    public static bool SameOrInside(string path, string folder)
    {
        string p = Path.TrimEndingDirectorySeparator(Path.GetFullPath(path)) + "/",
            f = Path.TrimEndingDirectorySeparator(Path.GetFullPath(folder)) + "/";
        return p.StartsWith(f, StringComparison.Ordinal);
    }
}
