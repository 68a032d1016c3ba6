using MaskRcnn.Config;
using MaskRcnn.Modeling;
using MaskRcnn.Modeling.RoiHeads;
using MaskRcnn.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace MaskRcnn.Tests.Modeling;

public class TrainingStepTests
{
    /// <summary>Two 96×128 images: a bright ellipse (class 1) and a dark rectangle (class 2) on noise.</summary>
    internal static (Tensor[] Images, TargetTensors[] Targets) SyntheticBatch()
    {
        var images = new List<Tensor>();
        var targets = new List<TargetTensors>();
        var g = new Random(3);
        for (int n = 0; n < 2; n++)
        {
            var img = rand(3, 96, 128) * 0.3f;
            var yy = arange(96).view(-1, 1).to(float32);
            var xx = arange(128).view(1, -1).to(float32);
            float cx = 30 + n * 50,
                cy = 40,
                rx = 18,
                ry = 14;
            var ellipse = ((xx - cx) / rx).pow(2) + ((yy - cy) / ry).pow(2) <= 1;
            var rect = zeros(96, 128, dtype: @bool);
            int x0 = 80 - n * 60,
                y0 = 55 + n * 5;
            rect[y0..(y0 + 25), x0..(x0 + 35)] = true;
            img = img.masked_fill(ellipse.unsqueeze(0), 0.95f).masked_fill(rect.unsqueeze(0), 0.02f);
            images.Add(img);
            var boxes = tensor(new float[] { cx - rx, cy - ry, cx + rx, cy + ry, x0, y0, x0 + 35, y0 + 25 }).view(2, 4);
            targets.Add(
                new TargetTensors(boxes, tensor(new long[] { 1, 2 }), stack([ellipse, rect]).to(ScalarType.Byte))
            );
        }
        return (images.ToArray(), targets.ToArray());
    }

    /// <summary>The tests' small model (<see cref="TinyTraining"/>) on the batch's 96×128 images.</summary>
    internal static MaskRcnnConfig TinyConfig() => TinyTraining.Config(side: 96) with { MaxSize = 128 };

    /// <summary>
    /// Every loss on a fixed evaluation: same seed, and for the RoI heads the same proposals (GT boxes jittered
    /// by up to ±30 % plus random boxes) before and after training — the training-time box loss first rises
    /// as the RPN starts to propose positives, so the raw training curve is not a fair "before".
    /// </summary>
    static Dictionary<string, float> FixedLosses(MaskRCNN model, Tensor[] images, TargetTensors[] targets)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        manual_seed(123);
        var (list, resized) = model.Preprocess(images, targets);
        var features = model.Features(list.Tensors);
        var rpn = model.ProposeRegions(list, features, resized);
        var g = new Generator(5);
        var proposals = resized!
            .Select(t =>
            {
                var gt = t.Boxes.repeat(10, 1);
                var wh = (gt[.., 2..] - gt[.., ..2]).repeat(1, 2);
                var jittered = gt + (rand(gt.shape, generator: g) - 0.5f) * 0.6f * wh;
                var random = rand(20, 4, generator: g) * 96;
                var randomBoxes = cat(
                    [minimum(random[.., ..2], random[.., 2..]), maximum(random[.., ..2], random[.., 2..]) + 4],
                    1
                );
                return cat([jittered, randomBoxes], 0);
            })
            .ToArray();
        var heads = model.DetectInRois(list, features, proposals, resized);
        return heads.Losses.Concat(rpn.Losses).ToDictionary(kv => kv.Key, kv => kv.Value.item<float>());
    }

    [SkippableTheory]
    [InlineData(ComputePrecision.Float32)]
    // mixed precision: forward under bfloat16 autocast, backward and SGD in float32
    [InlineData(ComputePrecision.BFloat16)]
    [Trait("Category", "Slow")]
    public void A_few_SGD_steps_lower_every_loss(ComputePrecision precision)
    {
        Skip.If(
            precision != ComputePrecision.Float32 && !Autocast.IsAvailable,
            "libtorch's autocast functions were not found"
        );
        using var scope = NewDisposeScope();
        manual_seed(7);
        using var model = new MaskRCNN(TinyConfig());
        model.train();
        var (images, targets) = SyntheticBatch();
        var before = FixedLosses(model, images, targets);
        var optimizer = optim.SGD(
            model.parameters().Where(p => p.requires_grad),
            0.01,
            momentum: 0.9,
            weight_decay: 1e-4
        );
        for (int step = 0; step < 40; step++)
        {
            using var stepScope = NewDisposeScope();
            optimizer.zero_grad();
            Dictionary<string, Tensor> losses;
            using (model.PrecisionScope(precision))
                losses = model.Losses(images, targets);
            Assert.All(losses.Values, l => Assert.Equal(ScalarType.Float32, l.dtype));
            losses.Values.Aggregate((a, b) => a + b).backward();
            nn.utils.clip_grad_norm_(model.parameters().Where(p => p.requires_grad), 5.0);
            optimizer.step();
        }
        var after = FixedLosses(model, images, targets);
        Assert.Equal(
            ["loss_box_reg", "loss_classifier", "loss_mask", "loss_objectness", "loss_rpn_box_reg"],
            before.Keys.Order()
        );
        foreach (var key in before.Keys)
            Assert.True(
                float.IsFinite(after[key]) && after[key] < before[key],
                $"{key} did not fall: {before[key]:F4} -> {after[key]:F4}"
            );
    }

    [Fact]
    public void Predict_in_training_mode_restores_it_and_returns_original_size_outputs()
    {
        using var scope = NewDisposeScope();
        manual_seed(1);
        using var model = new MaskRCNN(TinyConfig() with { BoxScoreThresh = 0.0 });
        model.train();
        var (images, _) = SyntheticBatch();
        var results = model.Predict(images);
        Assert.True(model.training);
        Assert.Equal(2, results.Count);
        foreach (var d in results)
        {
            Assert.Equal((96L, 128L), d.ImageSize);
            Assert.Equal(new long[] { d.Count, 1, 96, 128 }, d.MaskProbs!.shape);
            Assert.Equal(new long[] { d.Count, 96, 128 }, d.Masks!.shape);
            Assert.True(d.Boxes[.., 2].le(128).all().item<bool>() && d.Boxes[.., 3].le(96).all().item<bool>());
            if (d.Count > 1)
                Assert.True(d.Scores[..^1].ge(d.Scores[1..]).all().item<bool>(), "scores must be sorted");
        }
    }

    [Fact]
    public void Losses_require_training_mode()
    {
        using var model = new MaskRCNN(TinyConfig());
        model.eval();
        var (images, targets) = SyntheticBatch();
        Assert.Throws<InvalidOperationException>(() => model.Losses(images, targets));
    }
}
