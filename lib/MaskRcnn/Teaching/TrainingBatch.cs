using MaskRcnn.Data;
using MaskRcnn.Modeling;
using MaskRcnn.Modeling.RoiHeads;
using MaskRcnn.Visualization;
using TorchSharp;
using static TorchSharp.torch;

namespace MaskRcnn.Teaching;

/// <summary>matterport's log(): a tensor's name, shape, type and value range — one row of a table.</summary>
public sealed record TensorLog(
    [property: Column("tensor")] string Name,
    [property: Column("shape")] string Shape,
    [property: Column("dtype")] string Type,
    [property: Column("min", "G4")] double? Min,
    [property: Column("max", "G4")] double? Max,
    [property: Column("what it is")] string Meaning
)
{
    public static TensorLog Of(string name, Tensor t, string meaning)
    {
        using var scope = NewDisposeScope();
        bool empty = t.numel() == 0;
        var values = t.to(float64);
        return new TensorLog(
            name,
            $"[{string.Join(", ", t.shape)}]",
            t.dtype.ToString(),
            empty ? null : values.min().item<double>(),
            empty ? null : values.max().item<double>(),
            meaning
        );
    }
}

/// <summary>
/// What one training step receives, as matterport's data generator logs it: the batch the transform makes of two
/// images, each image's targets, and the targets the two stages compute from them (for the first image).
/// </summary>
public static class TrainingBatch
{
    public static Table Describe(MaskRCNN model, Dataset data, int first = 0, int second = 1)
    {
        using var scope = NewDisposeScope();
        using var a = data.Load(first);
        using var b = data.Load(second);
        var (batch, targets) = model.Preprocess([a.Image, b.Image], [a.Targets(), b.Targets()]);
        var rows = new List<TensorLog>
        {
            TensorLog.Of("images", batch.Tensors, "normalised, resized, padded to a multiple of 32, stacked"),
        };
        for (int i = 0; i < 2; i++)
        {
            var t = targets![i];
            rows.Add(TensorLog.Of($"boxes[{i}]", t.Boxes, "x1, y1, x2, y2 in resized pixels, one row per lesion"));
            rows.Add(TensorLog.Of($"labels[{i}]", t.Labels, "class of each lesion (1 benign, 2 malignant)"));
            rows.Add(TensorLog.Of($"masks[{i}]", t.Masks, "one full-size binary mask per lesion"));
        }
        using var inspection = Inspector.Inspect(model, a.Image, a.Targets());
        rows.Add(TensorLog.Of("anchors", inspection.Anchors, "every anchor of every level (image 0)"));
        rows.Add(TensorLog.Of("rpn labels", inspection.AnchorLabels!, "1 positive, 0 negative, −1 ignored"));
        rows.Add(
            TensorLog.Of("rpn box targets", inspection.AnchorTargetDeltas!, "dx, dy, dw, dh to the matched lesion")
        );
        rows.Add(TensorLog.Of("rois", inspection.SampledRois!, "RoIs sampled for the second stage"));
        rows.Add(TensorLog.Of("roi labels", inspection.SampledRoiLabels!, "0 background, else the lesion's class"));
        rows.Add(
            TensorLog.Of("roi box targets", inspection.SampledRoiTargets!, "weighted deltas to the matched lesion")
        );
        rows.Add(TensorLog.Of("mask targets", inspection.MaskTargets!, "28 × 28 crops of the lesion per positive RoI"));
        return Table.From(rows);
    }

    /// <summary>The sample's ground truth as the model takes it.</summary>
    public static TargetTensors Targets(this Sample sample) => new(sample.Boxes, sample.Labels, sample.Masks);
}
