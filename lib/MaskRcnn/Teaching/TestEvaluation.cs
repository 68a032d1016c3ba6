using System.Diagnostics;
using MaskRcnn.Data;
using MaskRcnn.Evaluation;
using MaskRcnn.Modeling;
using MaskRcnn.Runtime;
using MaskRcnn.Visualization;

namespace MaskRcnn.Teaching;

/// <summary>
/// A model's predictions on a split, with everything notebook 06 asks of them: the ground truth, the detections
/// (all of them, down to the model's own score threshold), the COCO and clinical report at the clinical threshold,
/// and per-image errors.
/// </summary>
public sealed class TestEvaluation
{
    public MaskRCNN Model { get; }
    public Dataset Data { get; }
    public double Threshold { get; }
    public IReadOnlyList<string> Classes { get; }
    public IReadOnlyList<GtObject> Truth { get; }
    public IReadOnlyList<DtObject> Detections { get; }
    public IReadOnlyList<long> ImageIds { get; }
    public EvaluationReport Report { get; }

    /// <summary>Seconds per image that <see cref="Run"/> spent predicting.</summary>
    public double SecondsPerImage { get; }

    TestEvaluation(MaskRCNN model, Dataset data, double threshold, List<DtObject> detections, double seconds)
    {
        Model = model;
        Data = data;
        Threshold = threshold;
        Classes = model.Config.ClassNames.Skip(1).ToList();
        Truth = DatasetEvaluation.GroundTruth(data);
        Detections = detections;
        ImageIds = Enumerable.Range(1, data.Count).Select(i => (long)i).ToList();
        Report = DatasetEvaluation.Report(Truth, Detections, ImageIds, Classes, threshold);
        SecondsPerImage = seconds / Math.Max(1, data.Count);
    }

    /// <summary>Predicts every image of <paramref name="data"/> and evaluates at <paramref name="threshold"/>.</summary>
    public static TestEvaluation Run(MaskRCNN model, Dataset data, double threshold)
    {
        var clock = Stopwatch.StartNew();
        var detections = DatasetEvaluation.Detect(model, data);
        return new TestEvaluation(model, data, threshold, detections, clock.Elapsed.TotalSeconds);
    }

    /// <summary>"N images, L lesions, D detections (score ≥ s)".</summary>
    public override string ToString() =>
        $"{Data.Count} images, {Report.Lesions} lesions, {Detections.Count} detections "
        + $"(score ≥ {Model.Config.BoxScoreThresh})";

    /// <summary>COCO's summary for boxes and masks (−1: no objects of that size in the split).</summary>
    public Table CocoTable() =>
        Table.Of(
            new[] { ("boxes", Report.Bbox), ("masks", Report.Segm) },
            ("", r => r.Item1),
            ("AP", r => r.Item2?.AP),
            ("AP50", r => r.Item2?.AP50),
            ("AP75", r => r.Item2?.AP75),
            ("APs", r => r.Item2?.APs),
            ("APm", r => r.Item2?.APm),
            ("APl", r => r.Item2?.APl),
            ("AR100", r => r.Item2?.AR100)
        );

    /// <summary>Box and mask AP per class.</summary>
    public Table PerClassTable() =>
        Table.Of(
            Report.PerClass,
            ("class", kv => kv.Key),
            ("box AP50", kv => kv.Value.BboxAP50),
            ("mask AP50", kv => kv.Value.SegmAP50),
            ("box AP", kv => kv.Value.BboxAP),
            ("mask AP", kv => kv.Value.SegmAP)
        );

    /// <summary>The clinical numbers at the threshold, one line.</summary>
    public string Clinical() =>
        $"at {Threshold}: sensitivity {Show(Report.Sensitivity)}, false positives per image {Show(Report.FpPerImage)}, "
        + $"mean Dice {Show(Report.Dice)}, image accuracy {Show(Report.ImageClassificationAccuracy)}";

    /// <summary>A metric with three decimals, or "undefined" when it could not be measured.</summary>
    public static string Show(double? value) => value is double v ? v.ToString("F3") : "undefined";

    /// <summary>Sensitivity, false positives and image accuracy at thresholds 0.05 … 0.95.</summary>
    public IReadOnlyList<ClinicalMetrics> Sweep() => ClinicalMetrics.Sweep(Truth, Detections, ImageIds, Classes);

    /// <summary>The clinical metrics at another threshold (e.g. the one a reader picks).</summary>
    public ClinicalMetrics At(double threshold) =>
        ClinicalMetrics.Compute(Truth, Detections, ImageIds, Classes, threshold);

    /// <summary>The image classes in confusion order: normal, then the lesion classes.</summary>
    public IReadOnlyList<string> ImageClasses => ["normal", .. Classes];

    /// <summary>"N of M images correct", then one line per kind of error.</summary>
    public string ConfusionSummary()
    {
        var names = ImageClasses;
        var lines = new List<string> { $"correct: {names.Sum(n => Report.Confusion[n][n])} of {Data.Count} images" };
        foreach (var truth in names)
        foreach (var predicted in names.Where(p => p != truth && Report.Confusion[truth][p] > 0))
            lines.Add($"  {Report.Confusion[truth][predicted]} {truth} image(s) called {predicted}");
        return string.Join("\n", lines);
    }

    /// <summary>Per image (index into <see cref="Data"/>): lesions missed, false alarms, and whether the image class
    /// is wrong, at the threshold; only images with an error.</summary>
    public IReadOnlyList<(int Index, int Missed, int FalseAlarms, bool WrongClass)> Errors()
    {
        var errors = new List<(int, int, int, bool)>();
        for (int i = 0; i < Data.Count; i++)
        {
            long id = i + 1;
            var c = ClinicalMetrics.Compute(
                Truth.Where(g => g.ImageId == id).ToList(),
                Detections.Where(d => d.ImageId == id).ToList(),
                [id],
                Classes,
                Threshold
            );
            bool wrongClass = c.Confusion.Any(kv => kv.Value.Any(p => p.Key != kv.Key && p.Value > 0));
            if (c.Detected < c.Lesions || c.FalsePositives > 0 || wrongClass)
                errors.Add((i, c.Lesions - c.Detected, c.FalsePositives, wrongClass));
        }
        return errors;
    }

    /// <summary>
    /// The same images evaluated in float32 and, where this CPU runs bfloat16 natively, in bfloat16: time per image
    /// and the numbers that could move.
    /// </summary>
    public static Table ComparePrecisions(MaskRCNN model, Dataset data, double threshold)
    {
        var runs = new List<(string Name, TestEvaluation Run)>();
        foreach (var precision in new[] { ComputePrecision.Float32, ComputePrecision.BFloat16 })
        {
            if (precision == ComputePrecision.BFloat16 && !Autocast.IsAvailable)
                continue;
            model.Precision = precision;
            DatasetEvaluation.Detect(model, data.Take(2)); // warm-up
            runs.Add((precision.ShortName(), Run(model, data, threshold)));
        }
        model.Precision = ComputePrecision.Float32;
        return Table.Of(
            runs,
            ("precision", r => r.Name),
            ("s / image", r => r.Run.SecondsPerImage),
            ("mask AP", r => r.Run.Report.Segm?.AP),
            ("box AP", r => r.Run.Report.Bbox.AP),
            ($"sensitivity at {threshold}", r => r.Run.Report.Sensitivity),
            ("FP / image", r => r.Run.Report.FpPerImage),
            ("Dice", r => r.Run.Report.Dice)
        );
    }

    /// <summary>Test sets side by side: the COCO and clinical numbers of each.</summary>
    public static Table Compare(params (string Name, TestEvaluation Run)[] runs) =>
        Table.Of(
            runs,
            ("test set", r => r.Name),
            ("images", r => r.Run.Data.Count),
            ("segm AP50", r => r.Run.Report.Segm?.AP50),
            ("segm AP", r => r.Run.Report.Segm?.AP),
            ("bbox AP50", r => r.Run.Report.Bbox.AP50),
            ($"sensitivity@{runs[0].Run.Threshold}", r => r.Run.Report.Sensitivity),
            ("FP / image", r => r.Run.Report.FpPerImage),
            ("Dice", r => r.Run.Report.Dice),
            ("image accuracy", r => r.Run.Report.ImageClassificationAccuracy)
        );
}
