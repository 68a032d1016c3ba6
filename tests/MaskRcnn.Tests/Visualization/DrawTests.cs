using MaskRcnn.Config;
using MaskRcnn.Modeling;
using MaskRcnn.Visualization;
using SkiaSharp;
using static TorchSharp.torch;

namespace MaskRcnn.Tests.Visualization;

/// <summary>
/// Figures must draw whatever a model returns, including nothing: an undertrained model (the notebooks' quick
/// mode) often has no detections, no confident proposal, no positive anchor. Nothing here may throw.
/// </summary>
public class DrawTests
{
    static readonly string[] Classes = Presets.LesionClasses;

    static void AssertPng(Figure f, int width, int height)
    {
        Assert.Equal(width, f.Width);
        Assert.Equal(height, f.Height);
        using var decoded = SKBitmap.Decode(f.Png);
        Assert.NotNull(decoded);
        Assert.Equal(width, decoded.Width);
    }

    [Fact]
    public void Boxes_detections_and_comparison_draw_on_the_image()
    {
        using var scope = NewDisposeScope();
        var image = rand(3, 40, 60);
        var boxes = tensor(new float[] { 5, 5, 20, 30, 30, 10, 55, 35 }).view(2, 4);
        var masks = zeros(2, 40, 60, dtype: ScalarType.Bool);
        masks[0, 5..30, 5..20] = tensor(true);
        var d = new Detections(
            boxes,
            tensor(new long[] { 1, 2 }),
            tensor(new float[] { 0.95f, 0.4f }),
            null,
            masks,
            (40, 60)
        );

        var drawn = Draw.Detections(image, d, Classes, minScore: 0.5, scale: 2);
        AssertPng(drawn, 120, 80);
        AssertPng(Draw.Compare(image, boxes, tensor(new long[] { 1, 2 }), masks, d, Classes), 60, 40);
        AssertPng(Draw.Boxes(image, boxes, colors: [SKColors.Red, SKColors.Blue], labels: ["a", "b"]), 60, 40);
        // Something was drawn: the figure differs from the plain image.
        Assert.NotEqual(Draw.Image(image, scale: 2).Png, drawn.Png);
    }

    [Fact]
    public void Empty_inputs_draw_a_figure_instead_of_throwing()
    {
        using var scope = NewDisposeScope();
        var image = rand(3, 40, 60);
        var none = new Detections(
            zeros(0, 4),
            zeros(0, dtype: ScalarType.Int64),
            zeros(0),
            zeros(0, 1, 28, 28),
            zeros(0, 40, 60, dtype: ScalarType.Bool),
            (40, 60)
        );

        AssertPng(Draw.Detections(image, none, Classes, minScore: 0.9), 60, 40);
        AssertPng(
            Draw.Compare(image, zeros(0, 4), zeros(0, dtype: ScalarType.Int64), zeros(0, 40, 60), none, Classes),
            60,
            40
        );
        AssertPng(Draw.Boxes(image, zeros(0, 4), colors: []), 60, 40);

        var noMaps = Draw.MapGrid(zeros(0, 28, 28), columns: 8, caption: "predicted masks");
        Assert.True(noMaps.Width > 0 && noMaps.Height > 0);
        Assert.Equal("predicted masks", noMaps.Caption);
        AssertPng(noMaps, noMaps.Width, noMaps.Height);

        var noFigures = Draw.Grid([], columns: 3, caption: "nothing");
        Assert.True(noFigures.Width > 0 && noFigures.Height > 0);
        AssertPng(noFigures, noFigures.Width, noFigures.Height);

        // Constant maps (a dead channel) normalise to zeros rather than dividing by zero; a colour bar (38 px, at least
        // 200 px wide, wider when its end labels or its 12-px scale label need it) says what the colours mean.
        AssertPng(Draw.Heatmap(zeros(10, 12), scale: 2), 200, 20 + 38);
        var constantMaps = Draw.MapGrid(ones(3, 1, 8, 8), columns: 3, cell: 16);
        Assert.InRange(constantMaps.Width, 200, 260); // "min" and "max" beside a 120-px ramp, or the scale label
        AssertPng(constantMaps, constantMaps.Width, 18 + 38);
        // A long end label widens the figure instead of being cut at its edge.
        var wide = Draw.Heatmap(tensor(new float[] { -0.123456f, 0.0412345f }).view(1, 2));
        Assert.True(wide.Width > 200, $"width {wide.Width}");
    }

    [Fact]
    public void An_inspection_with_no_detection_still_draws_every_stage()
    {
        using var scope = NewDisposeScope();
        manual_seed(5);
        using var model = new MaskRCNN(
            new MaskRcnnConfig
            {
                Arch = "resnet18-fpn",
                NumClasses = 3,
                MinSize = [64],
                MaxSize = 96,
                ClassNames = Classes,
                BoxScoreThresh = 1.0, // nothing passes: no detections, no mask probabilities
            }
        );
        model.eval();
        var image = rand(3, 64, 80);
        var targets = new MaskRcnn.Modeling.RoiHeads.TargetTensors(
            tensor(new float[] { 10, 10, 40, 40 }).view(1, 4),
            tensor(new long[] { 2 }),
            ones(1, 64, 80)
        );
        using var ins = Inspector.Inspect(model, image, targets);
        Assert.Equal(0, ins.Detections.Count);
        Assert.Equal(0, ins.MaskProbabilities.shape[0]);

        var img = ins.ResizedImage;
        var maps = ins.MaskProbabilities[..Math.Min(8, (int)ins.MaskProbabilities.shape[0])];
        // nothing to scale: no colour bar
        AssertPng(Draw.MapGrid(maps, columns: 8, caption: "predicted masks"), 8 * 58, 58);
        AssertPng(Draw.Detections(ins.Image, ins.Detections, Classes, minScore: 0.5), 80, 64);
        var after = ins.AfterNms;
        var final = nonzero(after.Scores.ge(0.9)).view(-1);
        var grid = Draw.Grid(
            [
                Draw.Boxes(
                    img,
                    after.Boxes[final],
                    colors: after.Labels[final].ToLongArray().Select(c => Draw.ClassColor(c, Classes)).ToList()
                ),
                Draw.MapGrid(maps, columns: 8),
            ],
            columns: 2
        );
        Assert.True(grid.Width > 0);
    }

    [Fact]
    public void Ground_truth_has_no_scores_and_legends_say_what_colours_mean()
    {
        using var scope = NewDisposeScope();
        var image = rand(3, 40, 60);
        var boxes = tensor(new float[] { 5, 5, 20, 30 }).view(1, 4);
        var masks = zeros(1, 40, 60);
        masks[0, 5..30, 5..20] = tensor(1f);
        var truth = Draw.GroundTruth(image, boxes, tensor(new long[] { 1 }), masks, Classes);
        AssertPng(truth, 60, 40);
        var withLegend = Draw.GroundTruth(image, boxes, tensor(new long[] { 1 }), masks, Classes, legend: true);
        Assert.True(withLegend.Height > 40 && withLegend.Width >= 60);
        Assert.Equal(["benign", "malignant"], Draw.ClassLegend(Classes).Select(e => e.Label));
        Assert.Equal("ground truth (dashed)", Draw.ClassLegend(Classes, groundTruth: true)[0].Label);
        var perClass = Draw.ClassMasks(image, masks, tensor(new long[] { 1 }), Classes);
        Assert.True(perClass.Width > 2 * 60); // the image and one class panel
        AssertPng(Draw.FilterGrid(randn(64, 3, 7, 7)), 16 * 30, 4 * 30 + 38);
    }
}
