using MaskRcnn.Config;
using MaskRcnn.Modeling;
using MaskRcnn.Modeling.RoiHeads;
using MaskRcnn.Profiling;
using MaskRcnn.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace MaskRcnn.Tests.Profiling;

/// <summary>
/// FLOP counts of inference and of a training step (<see cref="FlopCounter"/>) on the tests' small model at 64 px,
/// against hand counts: the stem convolution (7×7, 3 → 64 channels, stride 2) and the box head's fc6.
/// </summary>
public class FlopCounterTests
{
    const int Side = 64;

    static MaskRcnnConfig Config() => TinyTraining.Config(side: Side);

    /// <summary>Two random 64×64 images with one and two box targets.</summary>
    static (List<Tensor> Images, List<TargetTensors> Targets) Batch()
    {
        var g = new Generator(11);
        var images = new List<Tensor> { rand(3, Side, Side, generator: g), rand(3, Side, Side, generator: g) };
        TargetTensors Target(params float[][] boxes)
        {
            var masks = zeros(new long[] { boxes.Length, Side, Side }, dtype: ScalarType.Byte);
            for (int i = 0; i < boxes.Length; i++)
                masks[i, (int)boxes[i][1]..(int)boxes[i][3], (int)boxes[i][0]..(int)boxes[i][2]] = 1;
            return new TargetTensors(
                tensor(boxes.SelectMany(b => b).ToArray()).view(boxes.Length, 4),
                ones(boxes.Length, dtype: int64),
                masks
            );
        }
        return (images, [Target([8, 8, 30, 28]), Target([4, 10, 20, 40], [30, 30, 60, 56])]);
    }

    /// <summary>A training step's forward and backward with a counter attached, training <paramref name="group"/>.</summary>
    static IReadOnlyList<LayerFlops> CountStep(string group)
    {
        manual_seed(0);
        using var model = new MaskRCNN(Config());
        model.train();
        LayerGroups.Apply(model, group);
        LayerGroups.FreezeBatchNormOutside(model, group);
        var (images, targets) = Batch();
        using var counter = FlopCounter.Attach(model);
        using var scope = NewDisposeScope();
        var losses = model.Losses(images, targets);
        model.Backward(losses.Values.Aggregate((a, b) => a + b));
        return counter.Calls.ToList();
    }

    static LayerFlops Single(IReadOnlyList<LayerFlops> calls, string layer) =>
        Assert.Single(calls, c => c.Layer == layer);

    [Fact]
    public void A_training_step_counts_the_stem_convolution_and_fc6_as_by_hand()
    {
        var config = Config();
        int rois = 2 * config.BoxBatchSizePerImage; // the sampler fills each image's quota (100 proposals + targets)
        // Stem: 2 images, 64 output channels at 32×32, each a dot product of 3 × 7 × 7 terms.
        double stem = 2.0 * (2 * 64 * 32 * 32) * (3 * 7 * 7);
        // fc6: one row per sampled RoI, FPN channels × 7 × 7 in, the representation size out.
        double fc6 = 2.0 * rois * (config.FpnOutChannels * 7 * 7) * config.RepresentationSize;

        var all = CountStep("all");
        Assert.Equal(stem, Single(all, "backbone.body.conv1").Forward);
        Assert.Equal(stem, Single(all, "backbone.body.conv1").Backward); // the weight's gradient only: the image needs none
        Assert.Equal(fc6, Single(all, "roi_heads.box_head.fc6").Forward);
        Assert.Equal(2 * fc6, Single(all, "roi_heads.box_head.fc6").Backward); // weight's and input's gradients

        var heads = CountStep("heads");
        Assert.Equal(stem, Single(heads, "backbone.body.conv1").Forward);
        Assert.Equal(0, Single(heads, "backbone.body.conv1").Backward); // frozen, on the image
        Assert.Equal(2 * fc6, Single(heads, "roi_heads.box_head.fc6").Backward);
        // The FPN's lateral 1×1 convolutions train on the frozen body's output: their weights' gradient only.
        var lateral = Single(heads, "backbone.fpn.inner_blocks.0.0");
        Assert.Equal(lateral.Forward, lateral.Backward);
        Assert.All(heads.Where(c => c.Layer.StartsWith("backbone.body.")), c => Assert.Equal(0, c.Backward));
    }

    [Fact]
    public void Stage_4_plus_computes_layer3_s_first_weight_gradient_and_nothing_below()
    {
        var calls = CountStep("4+");
        var first = Single(calls, "backbone.body.layer3.0.conv1");
        var second = Single(calls, "backbone.body.layer3.0.conv2");
        Assert.Equal(first.Forward, first.Backward); // trains, on layer2's frozen output
        Assert.Equal(2 * second.Forward, second.Backward);
        Assert.All(
            calls.Where(c => c.Layer.StartsWith("backbone.body.layer2.") || c.Layer == "backbone.body.conv1"),
            c => Assert.Equal(0, c.Backward)
        );
    }

    [Fact]
    public void The_training_step_profiler_splits_every_counted_flop_into_its_phases()
    {
        manual_seed(0);
        using var model = new MaskRCNN(Config());
        model.train();
        LayerGroups.Apply(model, "all");
        var (images, targets) = Batch();
        var sgd = new Sgd(model.named_parameters(), 0.9, 1e-4) { LearningRate = 0.01 };
        using var outer = FlopCounter.Attach(model); // counts the same calls as the profiler's own counter
        var stages = TrainingStepProfiler.Profile(model, images, targets, sgd.ZeroGrad, sgd.Step);

        double Flops(string stage) => Assert.Single(stages, s => s.Stage == stage).Flops;
        Assert.Equal(9, stages.Count);
        Assert.Equal(outer.Forward, stages.Where(s => s.Stage.StartsWith("forward:")).Sum(s => s.Flops), 1e-6);
        Assert.Equal(outer.Backward, stages.Where(s => s.Stage.StartsWith("backward:")).Sum(s => s.Flops), 1e-6);
        // Every layer of the RPN head trains and its input (the FPN's output) needs a gradient: 2×.
        Assert.Equal(2 * Flops("forward: RPN (head, proposals, matching, losses)"), Flops("backward: RPN"), 1e-6);
        Assert.Equal(0, Flops("optimizer step"));
        Assert.True(Flops("forward: backbone + FPN") > 0);
    }

    [Fact]
    public void Inference_stages_count_every_flop_and_no_backward()
    {
        manual_seed(0);
        using var model = new MaskRCNN(Config());
        model.eval();
        var image = rand(3, Side, Side);
        using var outer = FlopCounter.Attach(model);
        var stages = StageProfiler.Profile(model, image);
        Assert.Equal(outer.Forward, stages.Sum(s => s.Flops), 1e-6);
        Assert.Equal(0, outer.Backward);
        var pooling = Single(outer.Calls, "roi_heads.box_roi_pool");
        Assert.Equal(pooling.Forward, Assert.Single(stages, s => s.Stage == "box RoIAlign").Flops);
    }

    [Fact]
    public void Gemm_shapes_follow_the_configuration_and_the_rate_is_measured()
    {
        var shapes = GemmRate.ShapesFor(Presets.Walkthrough(), side: 256, batch: 2);
        Assert.Contains(shapes, s => (s.M, s.K, s.N) == (2 * 64 * 64, 9 * 128, 128)); // FPN 3×3 at stride 4
        Assert.Contains(shapes, s => (s.M, s.K, s.N) == (2 * 64, 128 * 7 * 7, 512)); // fc6 on 64 RoIs an image
        var measured = GemmRate.Measure(new GemmShape("small", 64, 32, 16), samples: 2, secondsPerSample: 0.001);
        Assert.Equal(2.0 * 64 * 32 * 16, measured.Shape.Flops);
        Assert.True(measured.MedianSeconds > 0 && double.IsFinite(measured.GflopPerSecond));
    }
}
