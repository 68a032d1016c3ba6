using MaskRcnn.Data;
using MaskRcnn.Modeling;
using MaskRcnn.Modeling.Ops;
using MaskRcnn.Visualization;
using static TorchSharp.torch;

namespace MaskRcnn.Teaching;

/// <summary>One set of boxes' recall of the lesions (matterport's compute_recall).</summary>
public sealed record RecallRow(
    [property: Column("boxes")] string Boxes,
    [property: Column("count", "N0")] long Count,
    [property: Column("recall")] double Recall,
    [property: Column("boxes reaching the IoU", "N0")] long Matching
);

/// <summary>matterport's RPN recall, three times: all anchors, all anchors refined, proposals after NMS.</summary>
public static class RpnRecall
{
    /// <summary>On one inspected image, at IoU <paramref name="iou"/>.</summary>
    public static Table ForImage(InspectionResult inspection, double iou)
    {
        var truth = inspection.GroundTruth?.Boxes ?? throw new MaskRcnnException("RPN recall needs ground truth");
        var sets = new[]
        {
            ("all anchors", inspection.Anchors),
            ("all anchors, refined by the RPN", inspection.RefinedAnchors),
            ("proposals after NMS", inspection.Proposals),
        };
        var rows = sets.Select(s =>
        {
            var (recall, matching) = InspectionSteps.Recall(s.Item2, truth, iou);
            return new RecallRow(s.Item1, s.Item2.shape[0], recall, matching);
        });
        return Table.From(rows, $"recall at IoU {iou} on this image");
    }

    /// <summary>The proposals' recall over the images with lesions (at most <paramref name="images"/>), at each
    /// IoU.</summary>
    public static Table OverImages(MaskRCNN model, Dataset data, int images, params double[] ious)
    {
        var found = new long[ious.Length];
        long lesions = 0;
        int used = 0;
        for (int i = 0; i < data.Count && used < images; i++)
        {
            if (data.Images[i].Instances.Count == 0)
                continue;
            used++;
            using var scope = NewDisposeScope();
            using var s = data.Load(i);
            using var inspection = Inspector.Inspect(model, s.Image, s.Targets());
            var best = BoxOps.BoxIou(inspection.GroundTruth!.Boxes, inspection.Proposals).amax(1);
            lesions += best.shape[0];
            for (int k = 0; k < ious.Length; k++)
                found[k] += best.ge(ious[k]).sum().item<long>();
        }
        var rows = ious.Select((iou, k) => (Iou: iou, Found: found[k]));
        return Table
            .Of(
                rows,
                ("IoU", r => r.Iou.ToString("0.##")),
                ("lesions with a proposal at that IoU", r => $"{r.Found} of {lesions}"),
                ("recall", r => lesions == 0 ? double.NaN : (double)r.Found / lesions)
            )
            .WithCaption(
                $"proposals after NMS ({model.Config.RpnPostNmsTopNTest} per image), {used} images with lesions"
            );
    }
}
