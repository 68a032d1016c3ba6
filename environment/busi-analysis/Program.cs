using System.Globalization;
using System.Text.Json;
using MaskRcnn.Data;
using MaskRcnn.Data.Phantoms;
using MaskRcnn.Evaluation;
using MaskRcnn.Runtime;
using MaskRcnn.Weights;

// busi-analysis ceiling [--lesions N]
//   The benign/malignant accuracy a classifier reaches from the generator's latent lesion features (BusiClassCeiling).
// busi-analysis frontier --csv FRONTIER.csv --png OUT.png [--metric COLUMN [--metric COLUMN]]
//   Test quality against training minutes, one line per recipe (columns: recipe, minutes and the metrics by name).
// busi-analysis misses --run DATA:SEED:RUN [--run ...] [--split test] [--threads N] [--json OUT]
//   Which lesions of generate-phantoms --difficulty busi folders a trained model finds at its clinical threshold,
//   by size after the model's resize, class, shape, echo pattern, posterior feature, orientation and calipers (the
//   latents regenerated from the seed the folder was made with).
CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;
try
{
    return args.FirstOrDefault() switch
    {
        "ceiling" => Ceiling(args[1..]),
        "misses" => Misses(args[1..]),
        "frontier" => Frontier(args[1..]),
        _ => Usage(),
    };
}
catch (MaskRcnn.MaskRcnnException e)
{
    Console.Error.WriteLine($"error: {e.Message}");
    return 1;
}

static int Usage()
{
    Console.Error.WriteLine(
        "usage: busi-analysis ceiling [--lesions N] | misses --run DATA:SEED:RUN [--run ...] [--split S] "
            + "[--threads N] [--json OUT] | frontier --csv FILE --png OUT [--metric COLUMN ...]"
    );
    return 2;
}

static int Frontier(string[] args)
{
    string csv = Values(args, "--csv").LastOrDefault() ?? throw new MaskRcnn.MaskRcnnException("frontier needs --csv");
    string png = Values(args, "--png").LastOrDefault() ?? throw new MaskRcnn.MaskRcnnException("frontier needs --png");
    var lines = File.ReadAllLines(csv).Where(l => l.Trim().Length > 0 && !l.StartsWith('#')).ToList();
    var header = lines[0].Split(',');
    int Column(string name) =>
        Array.IndexOf(header, name) is int i && i >= 0
            ? i
            : throw new MaskRcnn.MaskRcnnException($"{csv}: no column '{name}'");
    // Plain comma-separated values: no quoting, so a recipe's name holds no comma; every row as wide as the header.
    var rows = lines.Skip(1).Select(l => l.Split(',')).ToList();
    if (rows.FirstOrDefault(r => r.Length != header.Length) is string[] uneven)
        throw new MaskRcnn.MaskRcnnException(
            $"{csv}: row '{string.Join(',', uneven)}' has {uneven.Length} fields, the header {header.Length} "
                + "(a name with a comma?)"
        );
    int recipe = Column("recipe"),
        minutes = Column("train_minutes");
    double Number(string[] row, int column) =>
        double.TryParse(row[column], CultureInfo.InvariantCulture, out double value)
            ? value
            : throw new MaskRcnn.MaskRcnnException(
                $"{csv}: column '{header[column]}' of recipe '{row[recipe]}' is '{row[column]}', not a number"
            );
    // The first metric solid, a second dashed (two at most, so a line says which it is).
    var names = new Dictionary<string, string>
    {
        ["segm_ap50"] = "segm AP50",
        ["segm_ap"] = "segm AP",
        ["sensitivity"] = "sensitivity at 0.9",
        ["image_accuracy"] = "image accuracy",
        ["dice"] = "Dice",
    };
    var chosen = Values(args, "--metric");
    if (chosen.Count == 0)
        chosen = ["segm_ap50", "sensitivity"];
    if (chosen.Count > 2)
        throw new MaskRcnn.MaskRcnnException("frontier: at most two --metric (solid and dashed)");
    var metrics = chosen.Select((c, i) => (Column: c, Name: names.GetValueOrDefault(c, c), Dash: i == 1)).ToArray();
    var series = new List<MaskRcnn.Visualization.ChartSeries>();
    var recipes = rows.Select(r => r[recipe]).Distinct().ToList();
    foreach (var (column, name, dash) in metrics)
    {
        int m = Column(column);
        for (int k = 0; k < recipes.Count; k++)
        {
            var points = rows.Where(r => r[recipe] == recipes[k])
                .Select(r => (X: Number(r, minutes), Y: Number(r, m)))
                .OrderBy(p => p.X)
                .ToList();
            series.Add(
                new MaskRcnn.Visualization.ChartSeries(
                    $"{recipes[k]}: {name}",
                    points.Select(p => p.X).ToArray(),
                    points.Select(p => p.Y).ToArray(),
                    Color: MaskRcnn.Visualization.ChartSpec.Palette[k % 10],
                    Dash: dash
                )
            );
        }
    }
    var spec = MaskRcnn.Visualization.ChartSpec.Lines(
        $"BUSI-like phantoms: {string.Join(" and ", metrics.Select(m => m.Name))} against training time",
        "training time (minutes, steps only)",
        metrics.Length == 1 ? $"test {metrics[0].Name}" : $"test {metrics[0].Name} (solid), {metrics[1].Name} (dashed)",
        [.. series]
    ) with
    {
        YRange = [0, 1.02],
        Width = 900,
        Height = 520,
    };
    MaskRcnn.Visualization.Charts.Save(spec, png);
    Console.WriteLine($"wrote {png}");
    return 0;
}

static List<string> Values(string[] args, string name) =>
    args.Select((a, i) => (a, i)).Where(x => x.a == name && x.i + 1 < args.Length).Select(x => args[x.i + 1]).ToList();

static int Ceiling(string[] args)
{
    int lesions = Values(args, "--lesions").Select(int.Parse).LastOrDefault(200_000);
    Console.WriteLine($"benign/malignant ceiling from the generator's latent features ({lesions} lesions fitted, as");
    Console.WriteLine(
        "many held out; images: one class per image, 1 or 2 lesions; 3-class: normals recognised). At 0.9:"
    );
    Console.WriteLine("a model whose scores are these posteriors and whose outlines are perfect.");
    Console.WriteLine();
    Console.WriteLine(
        "| features | lesion accuracy | lesion-image accuracy | image accuracy (3 classes) | "
            + "share of lesions ≥ 0.9 (sensitivity) | image accuracy at 0.9 | segm AP50 |"
    );
    Console.WriteLine("|---|---|---|---|---|---|---|");
    foreach (var features in BusiClassCeiling.Standard)
    {
        var e = BusiClassCeiling.Run(features, lesions);
        Console.WriteLine(
            $"| {e.Describe()} | {e.LesionAccuracy:F3} ± {e.StandardError:F3} | {e.LesionImageAccuracy:F3} | "
                + $"{e.ImageAccuracy:F3} | {e.ConfidentShare:F3} | {e.ImageAccuracyAtThreshold:F3} | {e.Ap50:F3} |"
        );
    }
    return 0;
}

static int Misses(string[] args)
{
    var runs = Values(args, "--run");
    if (runs.Count == 0)
        return Usage();
    string split = Values(args, "--split").LastOrDefault("test");
    int splitIndex = Array.IndexOf(DatasetLoader.Splits, split);
    if (splitIndex < 0)
        throw new MaskRcnn.MaskRcnnException($"--split: '{split}' (use train, val or test)");
    int threads = Values(args, "--threads").Select(int.Parse).LastOrDefault(1);
    TorchEnvironment.Initialize(threads);

    var rows = new List<LesionRow>();
    foreach (string run in runs)
    {
        var parts = run.Split(':');
        if (parts.Length != 3 || !ulong.TryParse(parts[1], out ulong seed))
            throw new MaskRcnn.MaskRcnnException($"--run: '{run}' (use DATA:SEED:RUN)");
        rows.AddRange(MissesOfRun(parts[0], seed, parts[2], split, splitIndex));
    }

    var groups = new (string Name, Func<LesionRow, string> Key, string[]? Order)[]
    {
        ("all", _ => "all lesions", null),
        ("size after resize, √area", r => SizeBin(r.ResizedSize), SizeBins),
        ("class", r => r.Class, null),
        ("shape", r => r.Shape, ["oval", "irregular", "spiculated"]),
        ("echo pattern", r => r.Echo, ["hypo", "iso", "anechoic", "partly-hyper"]),
        ("posterior", r => r.Posterior, ["enhancement", "none", "shadowing"]),
        ("orientation", r => r.Aspect >= 1 ? "wider than tall" : "taller than wide", null),
        ("calipers", r => r.Calipers ? "calipers across it" : "no calipers", null),
    };
    Console.WriteLine();
    Console.WriteLine(
        $"{rows.Count} lesions of {runs.Count} run(s), split {split}, at each model's clinical threshold "
            + $"({string.Join(", ", rows.Select(r => r.Threshold).Distinct())})"
    );
    Console.WriteLine();
    Console.WriteLine(
        "| group | lesions | found (sensitivity) | found as its class | outlined, scored below | not outlined |"
    );
    Console.WriteLine("|---|---|---|---|---|---|");
    foreach (var (name, key, order) in groups)
    {
        var byKey = rows.GroupBy(key).ToDictionary(g => g.Key, g => g.ToList());
        var keys = order is null ? byKey.Keys.Order().ToList() : order.Where(byKey.ContainsKey).ToList();
        foreach (string k in keys)
        {
            var g = byKey[k];
            int found = g.Count(r => r.Found),
                right = g.Count(r => r.FoundAsItsClass),
                below = g.Count(r => !r.Found && r.BestScore > 0),
                none = g.Count(r => r.BestScore == 0);
            Console.WriteLine(
                $"| {(name == "all" ? "" : name + ": ")}{k} | {g.Count} | {found} ({Share(found, g.Count)}) | "
                    + $"{right} ({Share(right, g.Count)}) | {below} ({Share(below, g.Count)}) | "
                    + $"{none} ({Share(none, g.Count)}) |"
            );
        }
    }
    if (Values(args, "--json").LastOrDefault() is string json)
    {
        File.WriteAllText(json, JsonSerializer.Serialize(rows, new JsonSerializerOptions { WriteIndented = true }));
        Console.WriteLine($"per-lesion rows: {json}");
    }
    return 0;
}

static string Share(int n, int of) => of == 0 ? "—" : $"{100.0 * n / of:F0} %";

static string SizeBin(double size) => SizeBins[SizeEdges.Count(e => size >= e)];

static List<LesionRow> MissesOfRun(string data, ulong seed, string weights, string split, int splitIndex)
{
    var (model, description) = ModelLoader.Load(
        weights,
        c => c with { BoxScoreThresh = Math.Min(c.BoxScoreThresh, 0.05) }
    );
    using var _ = model;
    Console.WriteLine($"{data} (seed {seed}): model {description}");
    var classes = model.Config.ClassNames.Skip(1).ToArray();
    var ds = DatasetLoader.LoadSplit(data, split, new LabelOptions(classes), decode: true);

    // The latents of each image, regenerated from the seed; the folder must be generate-phantoms' output for it.
    var latents = ds
        .Images.Select(image =>
        {
            string stem = Path.GetFileNameWithoutExtension(image.FileName);
            if (!int.TryParse(stem[(stem.LastIndexOf('_') + 1)..], out int index))
                throw new MaskRcnn.MaskRcnnException($"{image.Path}: not a phantom_{split}_NNNN.png file");
            var latent = BusiPhantomGenerator.GenerateWithLatents(
                SplitMix.Derive(seed, (ulong)splitIndex, (ulong)index)
            );
            if (
                latent.Phantom.Width != image.Width
                || latent.Phantom.Height != image.Height
                || latent.Phantom.Lesions.Count != image.Instances.Count
            )
                throw new MaskRcnn.MaskRcnnException(
                    $"{image.Path}: not what generate-phantoms --difficulty busi --seed {seed} makes"
                );
            return latent;
        })
        .ToList();

    var gts = DatasetEvaluation.GroundTruth(ds);
    var dts = DatasetEvaluation.Detect(model, ds);
    double threshold = model.Config.Training.ClinicalScoreThreshold;
    var outcomes = LesionOutcome.Compute(gts, dts, threshold);

    var rows = new List<LesionRow>();
    int gtIndex = 0;
    for (int i = 0; i < ds.Count; i++)
    {
        var image = ds.Images[i];
        var (h, w) = model.Transform.ResizedSize(image.Height, image.Width);
        double scale = (double)h / image.Height;
        for (int j = 0; j < image.Instances.Count; j++, gtIndex++)
        {
            var o = outcomes[gtIndex];
            var look = latents[i].Looks[j];
            rows.Add(
                new LesionRow(
                    data,
                    image.FileName,
                    j,
                    look.Benign ? "benign" : "malignant",
                    Math.Sqrt(o.Area),
                    Math.Sqrt(o.Area) * scale,
                    look.Oval ? "oval"
                        : look.Spiculated ? "spiculated"
                        : "irregular",
                    look.Echo,
                    look.PosteriorFactor > 1 ? "enhancement"
                        : look.PosteriorFactor < 1 ? "shadowing"
                        : "none",
                    look.Aspect,
                    j == 0 && latents[i].Calipers,
                    threshold,
                    o.Found,
                    o.FoundAsItsClass,
                    o.FoundClassId is int f ? classes[f - 1] : null,
                    o.BestScore,
                    o.BestClassId is int b ? classes[b - 1] : null
                )
            );
        }
    }
    return rows;
}

/// <summary>One test lesion: what the generator drew for it and what the model made of it.</summary>
sealed record LesionRow(
    string Data,
    string Image,
    int Lesion,
    string Class,
    double Size,
    double ResizedSize,
    string Shape,
    string Echo,
    string Posterior,
    double Aspect,
    bool Calipers,
    double Threshold,
    bool Found,
    bool FoundAsItsClass,
    string? FoundClass,
    double BestScore,
    string? BestClass
);

partial class Program
{
    static readonly double[] SizeEdges = [16, 24, 32, 48, 64];
    static readonly string[] SizeBins = ["< 16 px", "16–24 px", "24–32 px", "32–48 px", "48–64 px", "≥ 64 px"];
}
