using System.CommandLine;
using MaskRcnn.Data;
using MaskRcnn.Data.Busi;
using MaskRcnn.Data.Coco;

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
        var cmd = new Command(
            "import-busi",
            "Convert the BUSI dataset (image + mask PNGs) into a data folder with VIA polygons."
        )
        {
            busi,
            outDir,
            seed,
        };
        cmd.SetAction(r =>
            Verbs.Run(() =>
            {
                var report = BusiImporter.Import(r.GetValue(busi)!, r.GetValue(outDir)!, r.GetValue(seed));
                Console.WriteLine($"images: {string.Join(", ", report.Images.Select(kv => $"{kv.Key} {kv.Value}"))}");
                Console.WriteLine(
                    $"instances: {string.Join(", ", report.Instances.Select(kv => $"{kv.Key} {kv.Value}"))}"
                );
                Console.WriteLine($"problems: {report.Problems.Count}");
                foreach (var p in report.Problems.Take(20))
                    Console.WriteLine($"  {p}");
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
        };
        cmd.SetAction(r =>
            Verbs.Run(() =>
            {
                var labels = new LabelOptions(
                    r.GetValue(classes)!
                        .Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
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
}
