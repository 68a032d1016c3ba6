using MaskRcnn.Evaluation;
using MaskRcnn.Modeling;
using MaskRcnn.Visualization;
using static TorchSharp.torch;

namespace MaskRcnn.Teaching;

public static partial class RcnnFamily
{
    /// <summary>How one generation did on a set of images: box AP50 with its bootstrap interval over the images, mask
    /// AP50 (Mask R-CNN only), the mean time per image by component, and the regions its heads classified per
    /// image.</summary>
    public sealed record GenerationScore(
        Pipeline Pipeline,
        Interval BoxAP50,
        double? MaskAP50,
        ComponentSeconds SecondsPerImage,
        double RegionsPerImage
    )
    {
        public string Name => Pipeline.Name;
    }

    /// <summary>One step of the history: the change in box AP50 from the generation before, with its bootstrap
    /// interval (the same resampled images for both), and the speed-up.</summary>
    public sealed record Step(Pipeline From, Pipeline To, Interval ApChange, double SpeedUp)
    {
        /// <summary>Whether the data show the change: its interval leaves out 0.</summary>
        public bool Shown => ApChange.Low > 0 || ApChange.High < 0;
    }

    /// <summary>Every generation on the same images, and the steps between them.</summary>
    public sealed record Comparison(
        IReadOnlyList<GenerationScore> Scores,
        IReadOnlyList<Step> Steps,
        int Images,
        int Lesions,
        int Resamples
    )
    {
        /// <summary>Where each generation's time goes: a stacked bar per generation (<see
        /// cref="ComparisonCharts.Time"/>).</summary>
        public Figure TimeChart(string caption = "") => ComparisonCharts.Time(this, caption);

        /// <summary>Box AP50 with its interval per generation (<see cref="ComparisonCharts.Accuracy"/>).</summary>
        public Figure AccuracyChart(string caption = "") => ComparisonCharts.Accuracy(this, caption);

        /// <summary>Accuracy: box AP50 and its 95 % interval, mask AP50, regions per image.</summary>
        public Table AccuracyTable() =>
            Table
                .Of(
                    Scores,
                    ("generation", s => s.Name),
                    ("box AP50", s => s.BoxAP50.Estimate),
                    ("95 % interval", s => $"{s.BoxAP50.Low:F3} – {s.BoxAP50.High:F3}"),
                    ("mask AP50", s => s.MaskAP50),
                    ("regions / image", s => (long)Math.Round(s.RegionsPerImage))
                )
                .WithCaption($"{Images} test images, {Lesions} lesions; intervals: {Resamples} bootstrap resamples");

        /// <summary>Time: the mean seconds per image, by component and in total.</summary>
        public Table TimeTable() =>
            Table
                .Of(
                    Scores,
                    ("generation", s => s.Name),
                    ("proposals", s => s.SecondsPerImage.Proposals),
                    ("warping", s => s.SecondsPerImage.Warping),
                    ("backbone", s => s.SecondsPerImage.Backbone),
                    ("region heads", s => s.SecondsPerImage.RegionHeads),
                    ("mask head", s => s.SecondsPerImage.MaskHead),
                    ("other", s => s.SecondsPerImage.Other),
                    ("total", s => s.SecondsPerImage.Total)
                )
                .WithCaption("seconds per image on this machine, mean over the images");

        /// <summary>Each step: what changed, the AP50 change and its interval, whether the data show it, the
        /// speed-up.</summary>
        public Table StepTable() =>
            Table
                .Of(
                    Steps,
                    ("step", s => $"{s.From.Name} → {s.To.Name}"),
                    ("what changed", s => s.To.Change),
                    ("box AP50 change", s => s.ApChange.Estimate.ToString("+0.000;−0.000;0.000")),
                    (
                        "95 % interval",
                        s => $"{s.ApChange.Low:+0.000;−0.000;0.000} – {s.ApChange.High:+0.000;−0.000;0.000}"
                    ),
                    ("shown by these images?", s => s.Shown ? "yes" : "no: the interval holds 0"),
                    ("speed-up", s => $"{s.SpeedUp:F1}×")
                )
                .WithCaption("each step against the one before, on the same resampled images");
    }

    /// <summary>
    /// The <paramref name="pipelines"/> (default: <see cref="History"/>) on the first <paramref name="images"/> images
    /// of <paramref name="dataset"/>, with this model's trained layers: box AP50 (COCO's algorithm; mask AP50 for Mask
    /// R-CNN) with a 95 % percentile-bootstrap interval over the images (<paramref name="resamples"/> resamples, the
    /// same for every pipeline, so that the steps' differences get intervals too), and the mean time per image by
    /// component. Selective search runs once per image (at most <paramref name="maxRegions"/> boxes, as many as the
    /// RPN's proposals) and its time is charged to each pipeline that uses it. (<see cref="Detect"/> runs each
    /// pipeline once untimed the first time it is asked for it.)
    /// </summary>
    public static Comparison Compare(
        MaskRCNN model,
        Data.Dataset dataset,
        int images,
        IReadOnlyList<Pipeline>? pipelines = null,
        int maxRegions = 300,
        int resamples = 1000
    )
    {
        var runs = pipelines ?? History;
        var subset = dataset.Take(images);
        var gts = DatasetEvaluation.GroundTruth(subset);
        var ids = Enumerable.Range(1, subset.Count).Select(i => (long)i).ToList();
        var dts = runs.Select(_ => new List<DtObject>()).ToArray();
        var seconds = runs.Select(_ => ComponentSeconds.Zero).ToArray();
        var regions = new double[runs.Count];
        bool classicalNeeded = runs.Any(p => UsesSelectiveSearch(p.Generation));
        for (int i = 0; i < subset.Count; i++)
        {
            using var scope = NewDisposeScope();
            var image = Data.ImageIO.ReadTensor(subset.Images[i].Path);
            var classical = classicalNeeded ? ClassicalProposals(image, maxRegions) : null;
            for (int p = 0; p < runs.Count; p++)
            {
                var run = Detect(model, image, runs[p].Generation, classical, runs[p].OneLevel, timings: 1);
                using var detections = run.Detections;
                seconds[p] = seconds[p].Plus(run.Seconds);
                regions[p] += run.Regions;
                dts[p].AddRange(DatasetEvaluation.ToObjects(detections, i + 1));
            }
        }
        var categories = Enumerable.Range(1, subset.Classes.Count - 1).ToList();
        var resamplers = dts.Select(d => new ResampledAp50(gts, d, "bbox", ids, categories)).ToList();
        var statistics = new List<Func<IReadOnlyList<int>, double>>();
        statistics.AddRange(resamplers.Select(r => (Func<IReadOnlyList<int>, double>)r.Ap50));
        for (int s = 1; s < resamplers.Count; s++)
        {
            var (before, after) = (resamplers[s - 1], resamplers[s]);
            statistics.Add(sample => after.Ap50(sample) - before.Ap50(sample));
        }
        var intervals = Bootstrap.Together(subset.Count, statistics, resamples);
        var scores = runs.Select(
                (p, n) =>
                    new GenerationScore(
                        p,
                        intervals[n],
                        p.Generation == Generation.MaskRcnn && dts[n].Count > 0
                            ? CocoEvaluator.Evaluate(gts, dts[n], "segm", ids, categories).AP50
                            : null,
                        seconds[n].Times(1.0 / subset.Count),
                        regions[n] / subset.Count
                    )
            )
            .ToList();
        var steps = Enumerable
            .Range(1, scores.Count - 1)
            .Select(s => new Step(
                runs[s - 1],
                runs[s],
                intervals[runs.Count + s - 1],
                scores[s - 1].SecondsPerImage.Total / scores[s].SecondsPerImage.Total
            ))
            .ToList();
        return new Comparison(scores, steps, subset.Count, gts.Count, resamples);
    }
}
