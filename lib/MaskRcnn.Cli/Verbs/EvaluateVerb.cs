using System.CommandLine;
using System.Text.Json;
using MaskRcnn.Config;
using MaskRcnn.Data;
using MaskRcnn.Evaluation;
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
        };
        cmd.SetAction(r =>
            Verbs.Run(() =>
            {
                EvaluationReport report;
                if (r.GetValue(gt) is string gtPath)
                {
                    string dtPath =
                        r.GetValue(dt) ?? throw new ArgumentException("--gt needs --dt (the detection results)");
                    var truth = CocoFiles.ReadGroundTruth(gtPath);
                    var results = CocoFiles.ReadResults(dtPath, truth);
                    report = DatasetEvaluation.Report(
                        truth.Objects,
                        results,
                        truth.ImageIds,
                        truth.CategoryNames,
                        r.GetValue(score) ?? 0.9
                    );
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
                    // Every image is decoded before it counts: one that cannot be read or resized is left out and said
                    // so, here and in the JSON's "data", rather than the evaluation reporting fewer images as if they
                    // were all.
                    var labels = new LabelOptions(classes);
                    var listed = DatasetLoader.LoadSplit(dataDir, r.GetValue(split)!, labels, decode: true);
                    var ds = Verbs.Resizable(listed, model.Transform, training: false);
                    var loaded = ds.Report();
                    Console.WriteLine($"data: {loaded.Describe("evaluated")}");
                    Verbs.PrintProblems(loaded.Problems, r.GetValue(json)!);
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
                string outPath = r.GetValue(json)!;
                Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(outPath))!);
                File.WriteAllText(outPath, JsonSerializer.Serialize(report, Json));
                Console.WriteLine(
                    $"bbox: AP {report.Bbox.AP:F3}  AP50 {report.Bbox.AP50:F3}  AP75 {report.Bbox.AP75:F3}  AR100 "
                        + $"{report.Bbox.AR100:F3}"
                );
                if (report.Segm is { } s)
                    Console.WriteLine($"segm: AP {s.AP:F3}  AP50 {s.AP50:F3}  AP75 {s.AP75:F3}  AR100 {s.AR100:F3}");
                foreach (var (name, c) in report.PerClass)
                    Console.WriteLine($"  {name, -10} bbox AP50 {c.BboxAP50:F3}  segm AP50 {c.SegmAP50:F3}");
                Console.WriteLine(
                    $"at confidence {report.ScoreThreshold}: sensitivity {report.Sensitivity:F3}, FP/image "
                        + $"{report.FpPerImage:F3}, Dice {report.Dice:F3}, image accuracy "
                        + $"{report.ImageClassificationAccuracy:F3}"
                );
                if (report.Data is { } d)
                    Console.WriteLine(d.Describe("evaluated"));
                Console.WriteLine($"wrote {outPath}");
                return 0;
            })
        );
        return cmd;
    }
}
