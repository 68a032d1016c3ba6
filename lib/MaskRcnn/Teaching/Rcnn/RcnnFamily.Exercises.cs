using System.Collections.Concurrent;
using MaskRcnn.Modeling.Ops;
using static TorchSharp.torch;

namespace MaskRcnn.Teaching;

public static partial class RcnnFamily
{
    /// <summary>Selective search's boxes of each image file, computed once per process (the recall exercise asks for
    /// them again and again).</summary>
    static readonly ConcurrentDictionary<string, float[]> ClassicalBoxes = new();

    /// <summary>
    /// Selective search's recall on the first <paramref name="images"/> images: the share of lesions that have a
    /// proposal among its <paramref name="max"/> best-ranked boxes overlapping them with IoU ≥ <paramref name="iou"/>.
    /// </summary>
    public static double ProposalRecall(Data.Dataset dataset, int images, int max, double iou = 0.7)
    {
        int found = 0,
            lesions = 0;
        foreach (var rank in BestRanks(dataset, images, iou))
        {
            lesions++;
            if (rank < max)
                found++;
        }
        return lesions == 0 ? double.NaN : (double)found / lesions;
    }

    /// <summary>For each lesion of the first <paramref name="images"/> images, the rank (0 = best) of selective
    /// search's first box overlapping it with IoU ≥ <paramref name="iou"/> (int.MaxValue when none does).</summary>
    public static IReadOnlyList<int> BestRanks(Data.Dataset dataset, int images, double iou = 0.7)
    {
        var ranks = new List<int>();
        var subset = dataset.Take(images);
        for (int i = 0; i < subset.Count; i++)
        {
            using var scope = NewDisposeScope();
            using var sample = subset.Load(i);
            if (sample.Boxes.shape[0] == 0)
                continue;
            var flat = ClassicalBoxes.GetOrAdd(subset.Images[i].Path, _ => SelectiveSearch.Run(sample.Image).Boxes.ToFloatArray());
            var boxes = flat.Length == 0 ? zeros(0, 4) : tensor(flat).view(-1, 4);
            var hits = BoxOps.BoxIou(boxes, sample.Boxes).ge(iou); // [N, G]
            foreach (var lesion in Enumerable.Range(0, (int)sample.Boxes.shape[0]))
            {
                var first = nonzero(hits[.., lesion]).view(-1);
                ranks.Add(first.shape[0] == 0 ? int.MaxValue : (int)first[0].item<long>());
            }
        }
        return ranks;
    }

    /// <summary>Letters of the boxes that survive non-maximum suppression at <paramref name="threshold"/>, in
    /// alphabetical order (box i is letter 'A' + i).</summary>
    public static string NmsSurvivors(float[,] boxes, float[] scores, double threshold)
    {
        using var scope = NewDisposeScope();
        var kept = Nms.Apply(tensor(boxes), tensor(scores), threshold).ToLongArray();
        return string.Concat(kept.Order().Select(i => (char)('A' + i)));
    }
}
