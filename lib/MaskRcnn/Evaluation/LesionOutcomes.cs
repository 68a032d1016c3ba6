namespace MaskRcnn.Evaluation;

/// <summary>
/// What became of one ground-truth lesion: found at the clinical threshold (matched as <see cref="ClinicalMetrics"/>
/// matches: detections at or above it, by score, to the unmatched lesion of highest mask IoU ≥ 0.5, any class) and
/// with which class; and, at any score, the best-scoring detection that overlaps it at IoU ≥ 0.5 — which tells a
/// lesion the model never outlined from one it outlined but scored below the threshold.
/// </summary>
/// <param name="GtIndex">the lesion's index in the ground-truth list given</param>
/// <param name="FoundClassId">the class of the detection matched at the threshold; null when not found</param>
/// <param name="BestScore">the highest score of a detection at IoU ≥ 0.5 with the lesion; 0 when none</param>
/// <param name="BestClassId">that detection's class; null when none</param>
public sealed record LesionOutcome(
    int GtIndex,
    long ImageId,
    int ClassId,
    double Area,
    int? FoundClassId,
    double BestScore,
    int? BestClassId
)
{
    public bool Found => FoundClassId is not null;

    /// <summary>Found at the threshold and called the right class.</summary>
    public bool FoundAsItsClass => FoundClassId == ClassId;

    /// <summary>
    /// Each lesion's outcome at <paramref name="threshold"/>. The matched count equals <see cref="ClinicalMetrics"/>'
    /// <c>Detected</c> for the same inputs.
    /// </summary>
    public static IReadOnlyList<LesionOutcome> Compute(
        IReadOnlyList<GtObject> gts,
        IReadOnlyList<DtObject> dts,
        double threshold
    )
    {
        var outcomes = new List<LesionOutcome>();
        var dtBy = dts.GroupBy(d => d.ImageId).ToDictionary(g => g.Key, g => g.ToList());
        var gtIndex = gts.Select((g, i) => (g, i)).Where(x => !x.g.IsCrowd).GroupBy(x => x.g.ImageId);
        foreach (var image in gtIndex)
        {
            var g = image.ToList();
            var d = dtBy.GetValueOrDefault(image.Key, []);
            var iou = new double[d.Count, g.Count];
            for (int k = 0; k < d.Count; k++)
            for (int j = 0; j < g.Count; j++)
                iou[k, j] =
                    d[k].Mask is not null && g[j].g.Mask is not null
                        ? RleOps.Iou(d[k].Mask!, g[j].g.Mask!, false)
                        : RleOps.BoxIou(d[k].Bbox, g[j].g.Bbox, false);

            // At the threshold: greedy by score, as ClinicalMetrics.
            var found = new int?[g.Count];
            foreach (
                int k in Enumerable
                    .Range(0, d.Count)
                    .Where(k => d[k].Score >= threshold)
                    .OrderByDescending(k => d[k].Score)
            )
            {
                int best = -1;
                double bestIou = ClinicalMetrics.MatchIou;
                for (int j = 0; j < g.Count; j++)
                    if (found[j] is null && iou[k, j] >= bestIou)
                        (best, bestIou) = (j, iou[k, j]);
                if (best >= 0)
                    found[best] = d[k].CategoryId;
            }

            for (int j = 0; j < g.Count; j++)
            {
                double bestScore = 0;
                int? bestClass = null;
                for (int k = 0; k < d.Count; k++)
                    if (iou[k, j] >= ClinicalMetrics.MatchIou && d[k].Score > bestScore)
                        (bestScore, bestClass) = (d[k].Score, d[k].CategoryId);
                var (gt, index) = g[j];
                outcomes.Add(
                    new LesionOutcome(index, gt.ImageId, gt.CategoryId, gt.Area, found[j], bestScore, bestClass)
                );
            }
        }
        return outcomes.OrderBy(o => o.GtIndex).ToList();
    }
}
