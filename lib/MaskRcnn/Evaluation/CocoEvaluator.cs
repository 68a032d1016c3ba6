using MaskRcnn.Data.Coco;

namespace MaskRcnn.Evaluation;

/// <summary>One ground-truth object. <paramref name="Area"/> is the annotation's area (mask pixels for COCO).</summary>
public sealed record GtObject(
    long ImageId,
    int CategoryId,
    double[] Bbox,
    RleMask? Mask,
    double Area,
    bool IsCrowd = false
);

/// <summary>One detection: (x, y, w, h) box, score, optional mask. Its area is the box's (as pycocotools'
/// loadRes).</summary>
public sealed record DtObject(long ImageId, int CategoryId, double[] Bbox, double Score, RleMask? Mask);

/// <summary>The twelve COCO numbers and the arrays behind them.</summary>
public sealed class CocoMetrics
{
    public required double AP { get; init; }
    public required double AP50 { get; init; }
    public required double AP75 { get; init; }
    public required double APs { get; init; }
    public required double APm { get; init; }
    public required double APl { get; init; }
    public required double AR1 { get; init; }
    public required double AR10 { get; init; }
    public required double AR100 { get; init; }
    public required double ARs { get; init; }
    public required double ARm { get; init; }
    public required double ARl { get; init; }

    /// <summary>precision[T=10, R=101, K, A=4, M=3], −1 where undefined (pycocotools' layout).</summary>
    public required double[,,,,] Precision { get; init; }

    /// <summary>recall[T, K, A, M], −1 where undefined.</summary>
    public required double[,,,] Recall { get; init; }
    public required int[] CategoryIds { get; init; }

    /// <summary>Mean precision over IoU thresholds (or one threshold), all areas, 100 detections, for category index
    /// k.</summary>
    public double CategoryAP(int k, double? iouThreshold = null)
    {
        var values = new List<double>();
        for (int t = 0; t < CocoEvaluator.IouThresholds.Length; t++)
        {
            if (iouThreshold is double thr && Math.Abs(CocoEvaluator.IouThresholds[t] - thr) > 1e-9)
                continue;
            for (int r = 0; r < 101; r++)
                if (Precision[t, r, k, 0, 2] > -1)
                    values.Add(Precision[t, r, k, 0, 2]);
        }
        return values.Count == 0 ? -1 : values.Average();
    }

    /// <summary>Interpolated precision at the 101 recall points for a category at one IoU (all areas, 100 detections):
    /// a PR curve.</summary>
    public (double[] Recall, double[] Precision) PrCurve(int k, double iouThreshold = 0.5)
    {
        int t = Array.FindIndex(CocoEvaluator.IouThresholds, v => Math.Abs(v - iouThreshold) < 1e-9);
        return (
            CocoEvaluator.RecallThresholds,
            Enumerable.Range(0, 101).Select(r => Precision[t, r, k, 0, 2]).ToArray()
        );
    }

    public Dictionary<string, double> Summary() =>
        new()
        {
            ["AP"] = AP,
            ["AP50"] = AP50,
            ["AP75"] = AP75,
            ["APs"] = APs,
            ["APm"] = APm,
            ["APl"] = APl,
            ["AR1"] = AR1,
            ["AR10"] = AR10,
            ["AR100"] = AR100,
            ["ARs"] = ARs,
            ["ARm"] = ARm,
            ["ARl"] = ARl,
        };
}

/// <summary>
/// COCO detection evaluation with pycocotools' algorithm (COCOeval.evaluate/accumulate/summarize): per image
/// and category, detections sorted by score (stable) are greedily matched to the best-IoU unmatched ground
/// truth at each IoU threshold .50:.05:.95 (crowd ground truth may match many and uses intersection over the
/// detection's area; matches to ignored ground truth are ignored); precision is made monotone and read at 101
/// recall points; areas all/small/medium/large; max detections 1/10/100.
/// </summary>
public static class CocoEvaluator
{
    /// <summary>np.linspace(.5, .95, 10) exactly as pycocotools gets it (note 0.8999999999999999): ties at a threshold
    /// match as there.</summary>
    public static readonly double[] IouThresholds =
    [
        0.5,
        0.55,
        0.6,
        0.65,
        0.7,
        0.75,
        0.8,
        0.85,
        0.8999999999999999,
        0.95,
    ];

    /// <summary>np.linspace(0, 1, 101), which equals i · 0.01 bit for bit.</summary>
    public static readonly double[] RecallThresholds = Enumerable.Range(0, 101).Select(i => i * 0.01).ToArray();
    public static readonly int[] MaxDets = [1, 10, 100];
    static readonly (double Lo, double Hi)[] AreaRanges =
    [
        (0, 1e10),
        (0, 32 * 32),
        (32 * 32, 96 * 96),
        (96 * 96, 1e10),
    ];

    sealed record ImageEval(double[] DtScores, long[,] DtMatches, bool[,] DtIgnore, bool[] GtIgnore);

    /// <summary>Ground truth and detections grouped by (image, class), pycocotools' unit of matching; checks
    /// <paramref name="iouType"/> ("bbox" or "segm").</summary>
    internal static (
        Dictionary<(long ImageId, int CategoryId), List<GtObject>> Gts,
        Dictionary<(long ImageId, int CategoryId), List<DtObject>> Dts
    ) ByImageAndClass(IReadOnlyList<GtObject> gts, IReadOnlyList<DtObject> dts, string iouType)
    {
        if (iouType is not ("bbox" or "segm"))
            throw new ArgumentException($"iouType must be bbox or segm, got {iouType}");
        return (
            gts.GroupBy(g => (g.ImageId, g.CategoryId)).ToDictionary(g => g.Key, g => g.ToList()),
            dts.GroupBy(d => (d.ImageId, d.CategoryId)).ToDictionary(g => g.Key, g => g.ToList())
        );
    }

    /// <param name="iouType">"bbox" or "segm"</param>
    /// <param name="imageIds">every image evaluated (images without ground truth count for false positives)</param>
    public static CocoMetrics Evaluate(
        IReadOnlyList<GtObject> gts,
        IReadOnlyList<DtObject> dts,
        string iouType,
        IReadOnlyList<long> imageIds,
        IReadOnlyList<int> categoryIds
    )
    {
        var (gtBy, dtBy) = ByImageAndClass(gts, dts, iouType);
        var cats = categoryIds.Order().ToArray();
        var imgs = imageIds.Distinct().Order().ToArray();
        int T = IouThresholds.Length,
            R = RecallThresholds.Length,
            K = cats.Length,
            A = AreaRanges.Length,
            M = MaxDets.Length;

        // evaluateImg for every (category, area, image)
        var evals = new ImageEval?[K, A, imgs.Length];
        for (int k = 0; k < K; k++)
        for (int i = 0; i < imgs.Length; i++)
        {
            var g = gtBy.GetValueOrDefault((imgs[i], cats[k]), []);
            var d = dtBy.GetValueOrDefault((imgs[i], cats[k]), [])
                .Select((x, idx) => (x, idx))
                .OrderByDescending(p => p.x.Score)
                .ThenBy(p => p.idx)
                .Select(p => p.x)
                .Take(MaxDets[^1])
                .ToList();
            if (g.Count == 0 && d.Count == 0)
                continue;
            var ious = new double[d.Count, g.Count];
            for (int a = 0; a < d.Count; a++)
            for (int b = 0; b < g.Count; b++)
                ious[a, b] =
                    iouType == "bbox"
                        ? RleOps.BoxIou(d[a].Bbox, g[b].Bbox, g[b].IsCrowd)
                        : RleOps.Iou(
                            d[a].Mask ?? throw new ArgumentException("segm evaluation needs detection masks"),
                            g[b].Mask ?? throw new ArgumentException("segm evaluation needs ground-truth masks"),
                            g[b].IsCrowd
                        );
            for (int ar = 0; ar < A; ar++)
                evals[k, ar, i] = EvaluateImage(g, d, ious, AreaRanges[ar]);
        }

        // accumulate
        var precision = new double[T, R, K, A, M];
        var recall = new double[T, K, A, M];
        Fill(precision, -1);
        Fill(recall, -1);
        for (int k = 0; k < K; k++)
        for (int a = 0; a < A; a++)
        for (int m = 0; m < M; m++)
        {
            int maxDet = MaxDets[m];
            var E = Enumerable
                .Range(0, imgs.Length)
                .Select(i => evals[k, a, i])
                .Where(e => e is not null)
                .Select(e => e!)
                .ToList();
            if (E.Count == 0)
                continue;
            var scores = new List<double>();
            var matches = new List<long[]>();
            var ignores = new List<bool[]>();
            foreach (var e in E)
                for (int j = 0; j < Math.Min(maxDet, e.DtScores.Length); j++)
                {
                    scores.Add(e.DtScores[j]);
                    matches.Add(Enumerable.Range(0, T).Select(t => e.DtMatches[t, j]).ToArray());
                    ignores.Add(Enumerable.Range(0, T).Select(t => e.DtIgnore[t, j]).ToArray());
                }
            int npig = E.Sum(e => e.GtIgnore.Count(ig => !ig));
            if (npig == 0)
                continue;
            // np.argsort(-scores, kind='mergesort'): stable descending
            var order = Enumerable.Range(0, scores.Count).OrderByDescending(j => scores[j]).ThenBy(j => j).ToArray();
            int nd = order.Length;
            for (int t = 0; t < T; t++)
            {
                var tp = new double[nd];
                var fp = new double[nd];
                double tpSum = 0,
                    fpSum = 0;
                for (int j = 0; j < nd; j++)
                {
                    int o = order[j];
                    bool matched = matches[o][t] != 0,
                        ignored = ignores[o][t];
                    if (matched && !ignored)
                        tpSum++;
                    if (!matched && !ignored)
                        fpSum++;
                    tp[j] = tpSum;
                    fp[j] = fpSum;
                }
                var rc = tp.Select(v => v / npig).ToArray();
                var pr = tp.Select((v, j) => v / (fp[j] + v + 2.220446049250313e-16)).ToArray();
                recall[t, k, a, m] = nd > 0 ? rc[^1] : 0;
                for (int j = nd - 1; j > 0; j--)
                    if (pr[j] > pr[j - 1])
                        pr[j - 1] = pr[j];
                for (int r = 0; r < R; r++)
                {
                    int pi = LowerBound(rc, RecallThresholds[r]);
                    precision[t, r, k, a, m] = pi < nd ? pr[pi] : 0;
                }
            }
        }

        double Summ(bool ap, double? iou, int area, int maxDetIndex)
        {
            var values = new List<double>();
            for (int t = 0; t < T; t++)
            {
                if (iou is double thr && Math.Abs(IouThresholds[t] - thr) > 1e-9)
                    continue;
                for (int k = 0; k < K; k++)
                {
                    if (ap)
                    {
                        for (int r = 0; r < R; r++)
                            if (precision[t, r, k, area, maxDetIndex] > -1)
                                values.Add(precision[t, r, k, area, maxDetIndex]);
                    }
                    else if (recall[t, k, area, maxDetIndex] > -1)
                        values.Add(recall[t, k, area, maxDetIndex]);
                }
            }
            return values.Count == 0 ? -1 : values.Average();
        }
        return new CocoMetrics
        {
            AP = Summ(true, null, 0, 2),
            AP50 = Summ(true, 0.5, 0, 2),
            AP75 = Summ(true, 0.75, 0, 2),
            APs = Summ(true, null, 1, 2),
            APm = Summ(true, null, 2, 2),
            APl = Summ(true, null, 3, 2),
            AR1 = Summ(false, null, 0, 0),
            AR10 = Summ(false, null, 0, 1),
            AR100 = Summ(false, null, 0, 2),
            ARs = Summ(false, null, 1, 2),
            ARm = Summ(false, null, 2, 2),
            ARl = Summ(false, null, 3, 2),
            Precision = precision,
            Recall = recall,
            CategoryIds = cats,
        };
    }

    static ImageEval EvaluateImage(
        List<GtObject> gtAll,
        List<DtObject> dtAll,
        double[,] iousAll,
        (double Lo, double Hi) range
    )
    {
        // Ground truth: ignored ones (crowd or out of the area range) last, stable.
        var gIdx = Enumerable
            .Range(0, gtAll.Count)
            .Select(i => (i, ignore: gtAll[i].IsCrowd || gtAll[i].Area < range.Lo || gtAll[i].Area > range.Hi))
            .OrderBy(p => p.ignore ? 1 : 0)
            .ThenBy(p => p.i)
            .ToList();
        int T = IouThresholds.Length,
            G = gIdx.Count,
            D = dtAll.Count;
        var gtIgnore = gIdx.Select(p => p.ignore).ToArray();
        var gtMatched = new bool[T, G];
        var dtMatches = new long[T, D];
        var dtIgnore = new bool[T, D];
        for (int t = 0; t < T; t++)
        for (int d = 0; d < D; d++)
        {
            double iou = Math.Min(IouThresholds[t], 1 - 1e-10);
            int m = -1;
            for (int g = 0; g < G; g++)
            {
                if (gtMatched[t, g] && !gtAll[gIdx[g].i].IsCrowd)
                    continue;
                if (m > -1 && !gtIgnore[m] && gtIgnore[g])
                    break;
                double v = iousAll[d, gIdx[g].i];
                if (v < iou)
                    continue;
                iou = v;
                m = g;
            }
            if (m == -1)
                continue;
            dtIgnore[t, d] = gtIgnore[m];
            dtMatches[t, d] = gIdx[m].i + 1;
            gtMatched[t, m] = true;
        }
        for (int d = 0; d < D; d++)
        {
            double area = dtAll[d].Bbox[2] * dtAll[d].Bbox[3];
            bool outside = area < range.Lo || area > range.Hi;
            for (int t = 0; t < T; t++)
                if (dtMatches[t, d] == 0 && outside)
                    dtIgnore[t, d] = true;
        }
        return new ImageEval(dtAll.Select(x => x.Score).ToArray(), dtMatches, dtIgnore, gtIgnore);
    }

    /// <summary>np.searchsorted(a, v, side='left').</summary>
    static int LowerBound(double[] a, double v)
    {
        int lo = 0,
            hi = a.Length;
        while (lo < hi)
        {
            int mid = (lo + hi) / 2;
            if (a[mid] < v)
                lo = mid + 1;
            else
                hi = mid;
        }
        return lo;
    }

    static void Fill(Array a, double v)
    {
        var span = System.Runtime.InteropServices.MemoryMarshal.CreateSpan(
            ref System.Runtime.CompilerServices.Unsafe.As<byte, double>(
                ref System.Runtime.InteropServices.MemoryMarshal.GetArrayDataReference(a)
            ),
            a.Length
        );
        span.Fill(v);
    }
}
