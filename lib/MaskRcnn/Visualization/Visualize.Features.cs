using MaskRcnn.Modeling;
using MaskRcnn.Teaching;
using SkiaSharp;
using TorchSharp;
using static TorchSharp.torch;

namespace MaskRcnn.Visualization;

/// <summary>Feature maps and where the proposals lie.</summary>
public static partial class Visualize
{
    /// <summary>
    /// The mean activation of each FPN level, every level enlarged to the same picture size (one map cell = stride ×
    /// stride image pixels, so coarser levels look blockier) with the lesions' boxes outlined in white; each map on its
    /// own blue → red scale, whose range its caption gives.
    /// </summary>
    public static Figure FeatureMaps(InspectionResult inspection, int side = 180)
    {
        using var scope = NewDisposeScope();
        var (h, w) = inspection.ResizedSize;
        double scale = (double)side / Math.Max(h, w);
        var boxes = (inspection.GroundTruth?.Boxes ?? zeros(0, 4)) * scale;
        var panels = new List<Figure>();
        foreach (var (name, map, stride) in inspection.Features)
        {
            var mean = map.mean([0]);
            // the part of the map over the image (the rest covers the padding)
            long mh = (long)Math.Ceiling((double)h / stride),
                mw = (long)Math.Ceiling((double)w / stride);
            mean = mean[..(int)Math.Min(mh, mean.shape[0]), ..(int)Math.Min(mw, mean.shape[1])];
            float lo = mean.min().item<float>(),
                hi = mean.max().item<float>();
            var unit = hi > lo ? (mean - lo) / (hi - lo) : zeros_like(mean);
            var size = new long[] { (long)Math.Round(h * scale), (long)Math.Round(w * scale) };
            var big = nn.functional.interpolate(
                unit[TensorIndex.None, TensorIndex.None],
                size,
                mode: InterpolationMode.Nearest
            )[0, 0];
            var caption =
                $"P{inspection.Features.ToList().FindIndex(f => f.Name == name) + 2} (stride {stride}): "
                + $"{StaticChart.FormatValue(lo)} … {StaticChart.FormatValue(hi)}";
            panels.Add(Draw.Boxes(Draw.HeatImage(big), boxes, SKColors.White, width: 1.5f, caption: caption));
        }
        var legend = new List<LegendEntry> { new("lesion box (ground truth)", SKColors.White) };
        return Draw.WithLegend(
            Draw.Grid(panels, 5, "mean activation per FPN level: blue = the map's lowest, red = its highest"),
            legend
        );
    }

    /// <summary>
    /// The first channels of the backbone stages' outputs (asked for when inspecting, e.g.
    /// <c>layers: ["backbone.body.layer1", …]</c>), each map on its own range.
    /// </summary>
    public static Figure BackboneStages(InspectionResult inspection, int channels = 8)
    {
        var grids = inspection
            .Activations.OrderBy(kv => kv.Key)
            .Select(kv =>
                Draw.MapGrid(
                    kv.Value[0, ..channels],
                    columns: channels,
                    cell: 64,
                    caption: $"{kv.Key.Replace("backbone.body.", "")}: first {channels} channels, "
                        + $"{kv.Value.shape[2]}×{kv.Value.shape[3]} cells"
                )
            )
            .ToList();
        return Draw.Grid(grids, 1, "backbone stages (each map on its own scale)");
    }

    /// <summary>Where the proposals' centres lie, x and y apart, with the lesions' centres marked.</summary>
    public static ChartHtml ProposalCentres(InspectionResult inspection)
    {
        using var scope = NewDisposeScope();
        var p = inspection.Proposals;
        var truth = inspection.GroundTruth?.Boxes ?? zeros(0, 4);
        ChartSpec Axis(string axis, int a, int b, string color) =>
            ChartSpec.Histogram(
                $"Proposal centres: {axis}",
                $"{axis} centre (resized-image pixels)",
                "proposals",
                new ChartSeries($"{axis} centre", X: Doubles((p[.., a] + p[.., b]) / 2), Color: color)
            ) with
            {
                Width = 470,
                Height = 320,
                XMarks = Enumerable
                    .Range(0, (int)truth.shape[0])
                    .Select(g => new ChartMark(((truth[g, a] + truth[g, b]) / 2).item<float>(), $"lesion {g + 1}"))
                    .ToList(),
            };
        return Charts.Row(Axis("x", 0, 2, ChartSpec.Palette[0]), Axis("y", 1, 3, ChartSpec.Palette[1]));
    }

    /// <summary>matterport's plot_overlaps: the mask IoU of every lesion with every detection (class and score in
    /// the column titles).</summary>
    public static ChartHtml Overlaps(
        Tensor gtMasks,
        Tensor gtLabels,
        Detections detections,
        IReadOnlyList<string> classNames,
        double minScore = 0.05
    ) => Charts.Render(InspectionSteps.OverlapChart(gtMasks, gtLabels, detections, classNames, minScore));
}
