using MaskRcnn.Config;
using MaskRcnn.Modeling;
using MaskRcnn.Visualization;
using static TorchSharp.torch;

namespace MaskRcnn.Teaching;

/// <summary>One FPN level as the model built it for an image: its stride, map size, anchor size and
/// anchors.</summary>
public sealed record AnchorLevel(
    [property: Column("level")] string Level,
    [property: Column("stride (px)")] int Stride,
    [property: Column("feature map (h × w)")] string Map,
    [property: Column("anchor size (px)")] string Size,
    [property: Column("ratios (h / w)")] string Ratios,
    [property: Column("anchors", "N0")] long Anchors
);

/// <summary>The anchors per pyramid level, read off the model (its feature maps and its anchor generator), not
/// computed from a formula.</summary>
public static class AnchorLevels
{
    public static Table Of(InspectionResult inspection, MaskRcnnConfig config)
    {
        var rows = inspection.Features.Select(
            (f, i) =>
                new AnchorLevel(
                    $"P{i + 2}",
                    f.Stride,
                    $"{f.Map.shape[1]} × {f.Map.shape[2]}",
                    string.Join(", ", config.AnchorSizes[i]),
                    string.Join(", ", config.AspectRatios[i]),
                    inspection.AnchorsPerLevel[i]
                )
        );
        return Table.From(rows, $"total: {inspection.Anchors.shape[0]:N0} anchors");
    }

    /// <summary>The anchors the model places on a <paramref name="width"/> × <paramref name="height"/> input (a
    /// blank image of that size, through the model's own transform and anchor generator).</summary>
    public static long Count(MaskRCNN model, int width, int height)
    {
        var sized = model.Config with { MinSize = [Math.Min(width, height)], MaxSize = Math.Max(width, height) };
        manual_seed(0);
        using var copy = new MaskRCNN(sized);
        using var inspection = Inspector.Inspect(copy, zeros(3, height, width));
        return inspection.Anchors.shape[0];
    }

    /// <summary>The padded batch's size for an image of <paramref name="width"/> × <paramref name="height"/>
    /// through the model's transform.</summary>
    public static (long H, long W) PaddedSize(MaskRCNN model, int width, int height)
    {
        using var scope = NewDisposeScope();
        var (batch, _) = model.Preprocess([zeros(3, height, width)]);
        return (batch.Tensors.shape[2], batch.Tensors.shape[3]);
    }
}
