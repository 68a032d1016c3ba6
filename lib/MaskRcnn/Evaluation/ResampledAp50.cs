namespace MaskRcnn.Evaluation;

/// <summary>
/// COCO's AP at IoU 0.5 (all areas, 100 detections per image and class: <see cref="CocoMetrics.AP50"/>) for any
/// multiset of the evaluated images, fast enough to bootstrap: each image's detections are matched to its ground
/// truth once (pycocotools' greedy matching, which looks at one image at a time), and a resample only pools the
/// matched detections of the images it draws, sorts them by score and integrates precision over the 101 recall
/// points. On the images as given it equals <see cref="CocoEvaluator"/>'s AP50.
/// </summary>
public sealed class ResampledAp50
{
    /// <summary>One image's detections of one class, best first: score, matched, ignored (matched to a
    /// crowd).</summary>
    sealed record Matches(double[] Scores, bool[] Matched, bool[] Ignored, int CountedTruths);

    readonly Matches?[,] _matches; // [image, class]
    readonly int _images;
    readonly int _classes;

    /// <param name="iouType">"bbox" or "segm"</param>
    /// <param name="imageIds">every image evaluated, in the order resample indices refer to</param>
    public ResampledAp50(
        IReadOnlyList<GtObject> gts,
        IReadOnlyList<DtObject> dts,
        string iouType,
        IReadOnlyList<long> imageIds,
        IReadOnlyList<int> categoryIds
    )
    {
        var (gtBy, dtBy) = CocoEvaluator.ByImageAndClass(gts, dts, iouType);
        var cats = categoryIds.Order().ToArray();
        _images = imageIds.Count;
        _classes = cats.Length;
        _matches = new Matches?[_images, _classes];
        for (int i = 0; i < _images; i++)
        for (int k = 0; k < _classes; k++)
        {
            var g = gtBy.GetValueOrDefault((imageIds[i], cats[k]), []);
            var d = dtBy.GetValueOrDefault((imageIds[i], cats[k]), [])
                .Select((x, index) => (x, index))
                .OrderByDescending(p => p.x.Score)
                .ThenBy(p => p.index)
                .Select(p => p.x)
                .Take(CocoEvaluator.MaxDets[^1])
                .ToList();
            if (g.Count > 0 || d.Count > 0)
                _matches[i, k] = Match(g, d, iouType);
        }
    }

    /// <summary>AP50 over all images as given.</summary>
    public double Ap50() => Ap50(Enumerable.Range(0, _images).ToArray());

    /// <summary>AP50 over the images at these indices (repeats count as further images); NaN when no drawn image
    /// has ground truth.</summary>
    public double Ap50(IReadOnlyList<int> images)
    {
        var perClass = new List<double>();
        for (int k = 0; k < _classes; k++)
        {
            var scores = new List<double>();
            var matched = new List<bool>();
            var ignored = new List<bool>();
            int truths = 0;
            foreach (int i in images)
            {
                if (_matches[i, k] is not { } m)
                    continue;
                scores.AddRange(m.Scores);
                matched.AddRange(m.Matched);
                ignored.AddRange(m.Ignored);
                truths += m.CountedTruths;
            }
            if (truths > 0)
                perClass.Add(AveragePrecision(scores, matched, ignored, truths));
        }
        return perClass.Count == 0 ? double.NaN : perClass.Average();
    }

    /// <summary>pycocotools' accumulate for one class at one IoU threshold: stable sort by score, cumulative true and
    /// false positives, the precision envelope, precision at each of the 101 recall thresholds.</summary>
    static double AveragePrecision(List<double> scores, List<bool> matched, List<bool> ignored, int truths)
    {
        var order = Enumerable.Range(0, scores.Count).OrderByDescending(j => scores[j]).ThenBy(j => j).ToArray();
        int n = order.Length;
        var recall = new double[n];
        var precision = new double[n];
        double tp = 0,
            fp = 0;
        for (int j = 0; j < n; j++)
        {
            int o = order[j];
            if (matched[o] && !ignored[o])
                tp++;
            if (!matched[o] && !ignored[o])
                fp++;
            recall[j] = tp / truths;
            precision[j] = tp / (fp + tp + 2.220446049250313e-16);
        }
        for (int j = n - 1; j > 0; j--)
            if (precision[j] > precision[j - 1])
                precision[j - 1] = precision[j];
        double sum = 0;
        foreach (double threshold in CocoEvaluator.RecallThresholds)
        {
            int index = Array.BinarySearch(recall, threshold);
            if (index < 0)
                index = ~index;
            else
                while (index > 0 && recall[index - 1] == threshold)
                    index--; // the first of equal values: searchsorted(side='left')
            sum += index < n ? precision[index] : 0;
        }
        return sum / CocoEvaluator.RecallThresholds.Length;
    }

    /// <summary>pycocotools' evaluateImg at IoU 0.5, area "all": each detection (best first) takes the unmatched
    /// ground truth it overlaps most (≥ 0.5), non-crowd before crowd.</summary>
    static Matches Match(List<GtObject> gts, List<DtObject> dts, string iouType)
    {
        var order = Enumerable.Range(0, gts.Count).OrderBy(g => gts[g].IsCrowd ? 1 : 0).ThenBy(g => g).ToArray();
        var taken = new bool[gts.Count];
        var matched = new bool[dts.Count];
        var ignored = new bool[dts.Count];
        for (int d = 0; d < dts.Count; d++)
        {
            double best = Math.Min(CocoEvaluator.IouThresholds[0], 1 - 1e-10);
            int m = -1;
            foreach (int g in order)
            {
                if (taken[g] && !gts[g].IsCrowd)
                    continue;
                if (m > -1 && !gts[m].IsCrowd && gts[g].IsCrowd)
                    break;
                double iou = Iou(dts[d], gts[g], iouType);
                if (iou < best)
                    continue;
                best = iou;
                m = g;
            }
            if (m == -1)
                continue;
            matched[d] = true;
            ignored[d] = gts[m].IsCrowd;
            taken[m] = true;
        }
        return new Matches(dts.Select(x => x.Score).ToArray(), matched, ignored, gts.Count(g => !g.IsCrowd));
    }

    static double Iou(DtObject d, GtObject g, string iouType) =>
        iouType == "bbox"
            ? RleOps.BoxIou(d.Bbox, g.Bbox, g.IsCrowd)
            : RleOps.Iou(
                d.Mask ?? throw new ArgumentException("segm evaluation needs detection masks"),
                g.Mask ?? throw new ArgumentException("segm evaluation needs ground-truth masks"),
                g.IsCrowd
            );
}
