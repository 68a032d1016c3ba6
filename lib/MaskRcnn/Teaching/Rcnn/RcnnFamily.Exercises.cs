using System.Collections.Concurrent;
using MaskRcnn.Modeling.Ops;
using static TorchSharp.torch;

namespace MaskRcnn.Teaching;

public static partial class RcnnFamily
{
    /// <summary>Per image file and IoU threshold, the rank of selective search's first box fitting each lesion,
    /// computed once per process (the recall exercise asks again and again).</summary>
    static readonly ConcurrentDictionary<(string Path, double Iou), int[]> FirstFits = new();

    /// <summary>
    /// Selective search's recall on the first <paramref name="images"/> images: the share of lesions that have a
    /// proposal among its <paramref name="max"/> best-ranked boxes overlapping them with IoU ≥ <paramref name="iou"/>.
    /// </summary>
    public static double ProposalRecall(Data.Dataset dataset, int images, int max, double iou = 0.5)
    {
        var ranks = BestRanks(dataset, images, iou);
        return ranks.Count == 0 ? double.NaN : ranks.Count(r => r < max) / (double)ranks.Count;
    }

    /// <summary>For each lesion of the first <paramref name="images"/> images, the rank (0 = best) of selective
    /// search's first box overlapping it with IoU ≥ <paramref name="iou"/> (int.MaxValue when none does).</summary>
    public static IReadOnlyList<int> BestRanks(Data.Dataset dataset, int images, double iou = 0.5)
    {
        var subset = dataset.Take(images);
        return Enumerable
            .Range(0, subset.Count)
            .SelectMany(i => FirstFits.GetOrAdd((subset.Images[i].Path, iou), _ => FirstFitsOf(subset, i, iou)))
            .ToList();
    }

    static int[] FirstFitsOf(Data.Dataset subset, int index, double iou)
    {
        using var scope = NewDisposeScope();
        using var sample = subset.Load(index);
        if (sample.Boxes.shape[0] == 0)
            return [];
        var hits = BoxOps.BoxIou(SelectiveSearch.Run(sample.Image).Boxes, sample.Boxes).ge(iou); // [N, G]
        return Enumerable
            .Range(0, (int)sample.Boxes.shape[0])
            .Select(lesion => nonzero(hits[.., lesion]).view(-1))
            .Select(first => first.shape[0] == 0 ? int.MaxValue : (int)first[0].item<long>())
            .ToArray();
    }

    /// <summary>Four boxes A–D with scores, for doing non-maximum suppression by hand.</summary>
    public static class NmsExample
    {
        /// <summary>x1, y1, x2, y2 of A, B, C, D.</summary>
        public static readonly float[][] Boxes =
        [
            [10, 10, 50, 50],
            [14, 12, 54, 52],
            [40, 40, 80, 80],
            [30, 10, 70, 50],
        ];

        public static readonly float[] Scores = [0.9f, 0.8f, 0.7f, 0.6f];

        /// <summary>The boxes as a table: letter, corners, score.</summary>
        public static Visualization.Table Table() =>
            Visualization.Table.Of(
                Enumerable.Range(0, Boxes.Length),
                ("box", i => ((char)('A' + i)).ToString()),
                ("x1, y1, x2, y2 (px)", i => string.Join(", ", Boxes[i])),
                ("score", i => Scores[i].ToString("0.0", System.Globalization.CultureInfo.InvariantCulture))
            );

        /// <summary>The letters of the boxes that survive NMS at <paramref name="threshold"/>,
        /// alphabetically.</summary>
        public static string Survivors(double threshold)
        {
            using var scope = NewDisposeScope();
            var boxes = tensor(Boxes.SelectMany(b => b).ToArray()).view(-1, 4);
            var kept = Nms.Apply(boxes, tensor(Scores), threshold).ToLongArray();
            return string.Concat(kept.Order().Select(i => (char)('A' + i)));
        }
    }

    /// <summary>The box deltas (tx, ty, tw, th) of <paramref name="box"/> relative to <paramref name="anchor"/>
    /// (both x1, y1, x2, y2), without the box coder's weights.</summary>
    public static double[] Deltas(float[] box, float[] anchor)
    {
        using var scope = NewDisposeScope();
        var coder = new Modeling.Utils.BoxCoder([1, 1, 1, 1]);
        var deltas = coder.Encode(tensor(box).view(1, 4), tensor(anchor).view(1, 4));
        return deltas.to(float64).data<double>().ToArray();
    }

    /// <summary>The backbone time R-CNN's run would take for <paramref name="regions"/> regions, at the time per
    /// region it measured.</summary>
    public static double RcnnBackboneSeconds(GenerationRun rcnn, int regions) =>
        rcnn.Seconds.Backbone / Math.Max(1, rcnn.Regions) * regions;

    /// <summary>The fewest best-ranked selective-search boxes that give every lesion of the first <paramref
    /// name="images"/> images a box with IoU ≥ <paramref name="iou"/> (int.MaxValue when some lesion has
    /// none).</summary>
    public static int ProposalsNeeded(Data.Dataset dataset, int images, double iou)
    {
        var ranks = BestRanks(dataset, images, iou);
        return ranks.Count == 0 || ranks.Max() == int.MaxValue ? int.MaxValue : ranks.Max() + 1;
    }
}
