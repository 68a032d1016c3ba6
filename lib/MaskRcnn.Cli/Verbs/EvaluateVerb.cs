using System.CommandLine;
using System.Text.Json;
using MaskRcnn.Config;
using MaskRcnn.Data;
using MaskRcnn.Evaluation;
using MaskRcnn.IO;
using MaskRcnn.Runtime;
using MaskRcnn.Weights;
using TorchSharp;

namespace MaskRcnn.Cli.Verbs;

/// <summary>
/// <c>evaluate --data DIR --split NAME --weights FILE|RUN_DIR --json OUT [--score-threshold F]</c> or
/// <c>evaluate --gt COCO_GT.json --dt COCO_RESULTS.json --json OUT</c>
/// </summary>
static class EvaluateVerb
{
    public static readonly JsonSerializerOptions Json = new() { WriteIndented = true };

    public static Command Create()
    {
        var data = new Option<string?>("--data") { Description = "data folder" };
        var split = new Option<string>("--split")
        {
            Description = "train, val or test",
            DefaultValueFactory = _ => "test",
        };
        var weights = new Option<string?>("--weights")
        {
            Description = "run folder, checkpoint or torchvision weights",
        };
        var gt = new Option<string?>("--gt")
        {
            Description = "COCO instances ground truth (metrics for results produced anywhere)",
        };
        var dt = new Option<string?>("--dt")
        {
            Description = "COCO detection results (as `predict --coco-json` writes)",
        };
        var json = new Option<string>("--json") { Description = "write the metrics here", Required = true };
        var score = Verbs.Fraction(
            new Option<double?>("--score-threshold")
            {
                Description = "confidence for the clinical metrics (default: the model's, 0.9)",
            }
        );
        var device = new Option<string>("--device")
        {
            Description = "cpu, cuda, cuda:N or auto",
            DefaultValueFactory = _ => "cpu",
        };
        var threads = Verbs.ThreadsOption();
        var precision = Verbs.InferencePrecisionOption();
        var labelKey = Verbs.LabelKeyOption();
        var cmd = new Command(
            "evaluate",
            "COCO AP (boxes and masks, pycocotools' algorithm) and clinical metrics on a data split or on COCO files."
        )
        {
            data,
            split,
            weights,
            gt,
            dt,
            json,
            score,
            device,
            threads,
            precision,
            labelKey,
        };
        cmd.SetAction(r =>
            Verbs.Run(() =>
            {
                string outPath = r.GetValue(json)!;
                Verbs.CheckOutput(outPath, "--json", r.GetValue(gt), r.GetValue(dt), r.GetValue(weights));
                EvaluationReport report;
                string? mismatch = null;
                if (r.GetValue(gt) is string gtPath)
                {
                    string dtPath =
                        r.GetValue(dt) ?? throw new ArgumentException("--gt needs --dt (the detection results)");
                    var truth = CocoFiles.ReadGroundTruth(gtPath);
                    var results = CocoFiles.ReadResultsFile(dtPath, truth);
                    var scoring = CocoFiles.Scoring(truth, results);
                    report = DatasetEvaluation.Report(
                        truth.Objects,
                        results.Objects,
                        truth.ImageIds,
                        truth.CategoryNames,
                        r.GetValue(score) ?? 0.9
                    ) with
                    {
                        Inputs = scoring,
                    };
                    Console.WriteLine($"inputs: {scoring.Describe()}");
                    Verbs.PrintProblems(scoring.Problems, outPath);
                }
                else
                {
                    string dataDir =
                        r.GetValue(data)
                        ?? throw new ArgumentException("give --data DIR --weights … or --gt FILE --dt FILE");
                    string weightsPath =
                        r.GetValue(weights)
                        ?? throw new ArgumentException(
                            "--data needs --weights (a run folder, checkpoint or weights file)"
                        );
                    Verbs.InitializeTorch(r.GetValue(threads));
                    var dev = TorchEnvironment.ResolveDevice(r.GetValue(device));
                    // Every detection counts for AP: evaluate with torchvision's low score threshold, whatever the
                    // model's.
                    var (model, description) = ModelLoader.Load(
                        weightsPath,
                        c => c with { BoxScoreThresh = Math.Min(c.BoxScoreThresh, 0.05) }
                    );
                    using var _ = model;
                    model.to(dev);
                    model.Precision = ComputePrecisionNames.Parse(r.GetValue(precision)!);
                    Console.WriteLine($"model: {description}");
                    if (model.Precision != ComputePrecision.Float32)
                        Console.WriteLine($"precision: {model.Precision.ShortName()} ({Autocast.Describe()})");
                    var classes =
                        model.Config.ClassNames.Length == model.Config.NumClasses
                            ? model.Config.ClassNames.Skip(1).ToArray()
                            : LabelOptions.Default.Classes.ToArray();
                    if (classes.Length != model.Config.NumClasses - 1)
                        throw new MaskRcnnException(
                            $"{weightsPath}: the model has {model.Config.NumClasses - 1} classes and no class names, so "
                                + "its class ids cannot be matched to the data's labels; evaluate a model trained on "
                                + "these classes (its checkpoint names them)"
                        );
                    // Every image is decoded before it counts: one that cannot be read or resized is left out and said
                    // so, here and in the JSON's "data", rather than the evaluation reporting fewer images as if they
                    // were all.
                    var labels = new LabelOptions(classes, r.GetValue(labelKey));
                    var listed = DatasetLoader.LoadSplit(dataDir, r.GetValue(split)!, labels, decode: true);
                    var ds = Verbs.Resizable(listed, model.Transform, training: false);
                    var loaded = ds.Report();
                    Console.WriteLine($"data: {loaded.Describe("evaluated")}");
                    Verbs.PrintProblems(loaded.Problems, outPath);
                    if (loaded.RegionsListed > 0 && loaded.RegionsUsed == 0)
                        mismatch =
                            $"none of the split's {loaded.RegionsListed} regions could be evaluated (the model's "
                            + $"classes: {string.Join(", ", classes)}; see the problems above)";
                    double threshold = r.GetValue(score) ?? model.Config.Training.ClinicalScoreThreshold;
                    report = DatasetEvaluation.Evaluate(
                        model,
                        ds,
                        threshold,
                        (i, n) =>
                        {
                            if (i % 10 == 0 || i == n)
                                Console.WriteLine($"  {i}/{n} images");
                        }
                    );
                }
                AtomicFile.WriteAllText(outPath, JsonSerializer.Serialize(report, Json));
                static string F(double? value) => Undefined.Format(value);
                Console.WriteLine(
                    $"bbox: AP {F(report.Bbox.AP)}  AP50 {F(report.Bbox.AP50)}  AP75 {F(report.Bbox.AP75)}  AR100 "
                        + F(report.Bbox.AR100)
                );
                if (report.Segm is { } s)
                    Console.WriteLine($"segm: AP {F(s.AP)}  AP50 {F(s.AP50)}  AP75 {F(s.AP75)}  AR100 {F(s.AR100)}");
                foreach (var (name, c) in report.PerClass)
                    Console.WriteLine($"  {name, -10} bbox AP50 {F(c.BboxAP50)}  segm AP50 {F(c.SegmAP50)}");
                Console.WriteLine(
                    $"at confidence {report.ScoreThreshold}: sensitivity {F(report.Sensitivity)}, FP/image "
                        + $"{F(report.FpPerImage)}, Dice {F(report.Dice)}, image accuracy "
                        + F(report.ImageClassificationAccuracy)
                );
                if (report.Data is { } d)
                    Console.WriteLine(d.Describe("evaluated"));
                Console.WriteLine($"wrote {outPath}");
                if (report.Evaluated)
                    return 0;
                // Undefined metrics are no result: written as such (null) and said on stderr, with a failing exit code.
                Console.Error.WriteLine(
                    "error: nothing could be evaluated: "
                        + (
                            mismatch
                            ?? (
                                report.Images == 0
                                    ? "no image"
                                    : $"no lesion in the {report.Images} images (no usable ground truth)"
                            )
                        )
                        + $"; the metrics are undefined (null in {outPath})"
                );
                return 1;
            })
        );
        return cmd;
    }
}
