namespace MaskRcnn.Evaluation;

/// <summary>
/// Lesion-level and image-level metrics at one confidence threshold (the walkthrough's 0.9 by default).
/// Detections at or above the threshold are matched greedily by score to the unmatched lesion they overlap
/// most, class-agnostically, when their mask IoU is ≥ 0.5. Sensitivity = matched lesions / lesions;
/// false positives = unmatched detections; Dice and IoU are averaged over matched pairs. An image is
/// "normal" without lesions (detections), otherwise it takes the most severe class present (highest class id).
/// A metric that cannot be measured is null ("undefined"), never a perfect or a zero score: sensitivity without
/// lesions, Dice and IoU without a matched lesion, false positives per image and image accuracy without images.
/// An image whose ground truth is incomplete (some of its regions were left out) counts for sensitivity and Dice with
/// the lesions it has, but not for false positives or image accuracy: whether it is normal, and whether a detection on
/// it is a false positive, is unknown.
/// </summary>
public sealed record ClinicalMetrics(
    double ScoreThreshold,
    int Images,
    int Lesions,
    int Detected,
    int FalsePositives,
    double? Sensitivity,
    double? FpPerImage,
    double? Dice,
    double? MeanIou,
    IReadOnlyList<double> DiceValues,
    double? ImageAccuracy,
    SortedDictionary<string, SortedDictionary<string, int>> Confusion
)
{
    public const double MatchIou = 0.5;

    /// <summary>Images left out of false positives and image accuracy: their ground truth is incomplete.</summary>
    public int ImagesWithIncompleteTruth { get; init; }

    /// <param name="classNames">foreground class names, category id = index + 1</param>
    /// <param name="incompleteImages">images whose ground truth is incomplete (see the class summary)</param>
    public static ClinicalMetrics Compute(
        IReadOnlyList<GtObject> gts,
        IReadOnlyList<DtObject> dts,
        IReadOnlyList<long> imageIds,
        IReadOnlyList<string> classNames,
        double threshold,
        IReadOnlySet<long>? incompleteImages = null
    )
    {
        var gtBy = gts.Where(g => !g.IsCrowd).GroupBy(g => g.ImageId).ToDictionary(g => g.Key, g => g.ToList());
        var dtBy = dts.Where(d => d.Score >= threshold)
            .GroupBy(d => d.ImageId)
            .ToDictionary(g => g.Key, g => g.OrderByDescending(d => d.Score).ToList());
        var names = new List<string> { "normal" }
            .Concat(classNames)
            .ToList();
        var confusion = new SortedDictionary<string, SortedDictionary<string, int>>(StringComparer.Ordinal);
        foreach (var a in names)
        {
            confusion[a] = new SortedDictionary<string, int>(StringComparer.Ordinal);
            foreach (var b in names)
                confusion[a][b] = 0;
        }
        int lesions = 0,
            detected = 0,
            fps = 0,
            correct = 0,
            incomplete = 0;
        var dice = new List<double>();
        var ious = new List<double>();
        var images = imageIds.Distinct().ToList();
        foreach (var id in images)
        {
            var g = gtBy.GetValueOrDefault(id, []);
            var d = dtBy.GetValueOrDefault(id, []);
            bool complete = incompleteImages?.Contains(id) != true;
            lesions += g.Count;
            var used = new bool[g.Count];
            foreach (var det in d)
            {
                int best = -1;
                double bestIou = MatchIou;
                for (int j = 0; j < g.Count; j++)
                {
                    if (used[j])
                        continue;
                    double iou =
                        det.Mask is not null && g[j].Mask is not null
                            ? RleOps.Iou(det.Mask, g[j].Mask!, false)
                            : RleOps.BoxIou(det.Bbox, g[j].Bbox, false);
                    if (iou >= bestIou)
                        (best, bestIou) = (j, iou);
                }
                if (best < 0)
                {
                    if (complete)
                        fps++;
                    continue;
                }
                used[best] = true;
                detected++;
                ious.Add(bestIou);
                dice.Add(2 * bestIou / (1 + bestIou)); // Dice from IoU: 2I/(A+B) = 2·IoU/(1 + IoU)
            }
            if (!complete)
            {
                incomplete++;
                continue;
            }
            string truth = g.Count == 0 ? "normal" : Name(g.Max(x => x.CategoryId));
            string predicted = d.Count == 0 ? "normal" : Name(d.Max(x => x.CategoryId));
            confusion[truth][predicted]++;
            if (truth == predicted)
                correct++;
        }
        return new ClinicalMetrics(
            threshold,
            images.Count,
            lesions,
            detected,
            fps,
            lesions == 0 ? null : (double)detected / lesions,
            images.Count == incomplete ? null : (double)fps / (images.Count - incomplete),
            dice.Count == 0 ? null : dice.Average(),
            ious.Count == 0 ? null : ious.Average(),
            dice,
            images.Count == incomplete ? null : (double)correct / (images.Count - incomplete),
            confusion
        )
        {
            ImagesWithIncompleteTruth = incomplete,
        };

        string Name(int categoryId) =>
            categoryId >= 1 && categoryId <= classNames.Count ? classNames[categoryId - 1] : $"class {categoryId}";
    }

    /// <summary>The same metrics at several thresholds: data for sensitivity-vs-false-positive and accuracy
    /// plots.</summary>
    public static IReadOnlyList<ClinicalMetrics> Sweep(
        IReadOnlyList<GtObject> gts,
        IReadOnlyList<DtObject> dts,
        IReadOnlyList<long> imageIds,
        IReadOnlyList<string> classNames,
        IEnumerable<double>? thresholds = null,
        IReadOnlySet<long>? incompleteImages = null
    ) =>
        (thresholds ?? Enumerable.Range(1, 19).Select(i => i * 0.05))
            .Select(t => Compute(gts, dts, imageIds, classNames, Math.Round(t, 4), incompleteImages))
            .ToList();
}
