using System.CommandLine;
using MaskRcnn.Config;
using MaskRcnn.Data;
using MaskRcnn.Data.Phantoms;

namespace MaskRcnn.Cli.Verbs;

/// <summary><c>maskrcnn generate-phantoms --out DIR --seed S [--train N --val N --test N --size PX] [--difficulty
/// easy|busi]</c></summary>
static class GeneratePhantomsVerb
{
    public static Command Create()
    {
        var outDir = new Option<string>("--out")
        {
            Description = "data folder to write (train/, val/, test/)",
            Required = true,
        };
        var seed = new Option<ulong>("--seed")
        {
            Description = "random seed (same seed → same bytes)",
            Required = true,
        };
        var train = Verbs.Range(
            new Option<int>("--train") { Description = "training images", DefaultValueFactory = _ => 120 },
            0,
            100_000
        );
        var val = Verbs.Range(
            new Option<int>("--val") { Description = "validation images", DefaultValueFactory = _ => 40 },
            0,
            100_000
        );
        var test = Verbs.Range(
            new Option<int>("--test") { Description = "test images", DefaultValueFactory = _ => 40 },
            0,
            100_000
        );
        var size = Verbs.Range(
            new Option<int>("--size")
            {
                Description = "image width = height in pixels (easy)",
                DefaultValueFactory = _ => 256,
            },
            32,
            MaskRcnnConfig.MaxImageSide,
            Verbs.SizeBudget
        );
        var difficulty = new Option<string>("--difficulty")
        {
            Description =
                "easy (square phantoms like data/phantom) or busi (BUSI-like scans: 440–650 × 400–560 px, smaller, "
                + "less typical lesions, heavier speckle, burned-in text and calipers; see data/README.md)",
            DefaultValueFactory = _ => "easy",
        };
        difficulty.AcceptOnlyFromAmong("easy", "busi");
        var overwrite = DataVerbs.OverwriteOption();
        var cmd = new Command(
            "generate-phantoms",
            "Generate synthetic breast-ultrasound images with benign/malignant lesions, annotated as VIA 2.x polygons."
        )
        {
            outDir,
            seed,
            train,
            val,
            test,
            size,
            difficulty,
            overwrite,
        };
        cmd.SetAction(r =>
            Verbs.Run(() =>
            {
                var summary = DataFolders.Write(
                    r.GetValue(outDir)!,
                    r.GetValue(overwrite),
                    staging =>
                        PhantomDataset.Write(
                            staging,
                            r.GetValue(seed),
                            r.GetValue(train),
                            r.GetValue(val),
                            r.GetValue(test),
                            r.GetValue(size),
                            r.GetValue(difficulty)!
                        )
                );
                static string Counts(IEnumerable<KeyValuePair<string, int>> counts) =>
                    string.Join(", ", counts.Select(kv => $"{kv.Key} {kv.Value}"));
                Console.WriteLine($"wrote {Counts(summary.Images)} images to {r.GetValue(outDir)}");
                Console.WriteLine($"  lesions: {Counts(summary.Lesions.OrderBy(k => k.Key))}");
                Console.WriteLine($"  images:  {Counts(summary.ImageClasses.OrderBy(k => k.Key))}");
                return 0;
            })
        );
        return cmd;
    }
}
