using MaskRcnn.Config;
using MaskRcnn.Modeling;
using MaskRcnn.Modeling.Kernels;
using MaskRcnn.Modeling.Ops;
using MaskRcnn.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace MaskRcnn.Tests.Modeling;

public class WinogradTests
{
    /// <summary>Max |Winograd − float64 reference| / max |reference|; a direct float32 convolution gets ~1e-6
    /// here.</summary>
    static double RelativeError(Tensor actual, Tensor x, Tensor weight, Tensor? bias)
    {
        using var scope = NewDisposeScope();
        var reference = nn.functional.conv2d(
            x.to(float64),
            weight.to(float64),
            bias?.to(float64),
            padding: new long[] { 1, 1 }
        );
        return (actual.to(float64) - reference).abs().max().item<double>() / reference.abs().max().item<double>();
    }

    public static TheoryData<int, int, int, int, int, bool, bool> ConvolveCases()
    {
        var cases = new TheoryData<int, int, int, int, int, bool, bool>();
        foreach (var loops in new[] { true, false })
        {
            cases.Add(2, 16, 32, 13, 9, true, loops); // sizes not multiples of the 4×4 tile: dropped overhang
            cases.Add(3, 5, 7, 8, 8, false, loops); // no bias, exact tiles, channels no vector multiple (tensor path)
            cases.Add(1, 16, 16, 1, 30, true, loops); // one row
            cases.Add(40, 16, 16, 14, 14, true, loops); // more tiles than one step: several images per step
            cases.Add(1, 16, 16, 70, 70, false, loops); // one image of more tiles than one step: rows of tiles per step
        }
        return cases;
    }

    [Theory]
    [MemberData(nameof(ConvolveCases))]
    public void Convolve_matches_the_direct_convolution(
        int n,
        int cin,
        int cout,
        int h,
        int w,
        bool withBias,
        bool vectorLoops
    )
    {
        using var scope = NewDisposeScope();
        manual_seed(3);
        var x = randn(n, cin, h, w);
        var weight = randn(cout, cin, 3, 3) * 0.2;
        var bias = withBias ? randn(cout) : null;
        var y = Winograd.Convolve(x, Winograd.TransformFilter(weight), bias, vectorLoops);
        Assert.Equal(new long[] { n, cout, h, w }, y.shape);
        Assert.True(y.IsChannelsLast(), "channels-last output");
        var error = RelativeError(y, x, weight, bias);
        Assert.True(error < 2e-5, $"relative error {error:E2}");
    }

    [SkippableFact]
    public void Step_buffers_are_kept_between_calls_and_released_when_asked()
    {
        Skip.IfNot(
            System.Numerics.Vector.IsHardwareAccelerated && 16 % System.Numerics.Vector<float>.Count == 0,
            "no vector loops for 16 channels on this CPU: the tensor path keeps no buffers"
        );
        using var scope = NewDisposeScope();
        manual_seed(3);
        var x = randn(1, 16, 12, 12);
        var weight = randn(16, 16, 3, 3) * 0.2;
        var filter = Winograd.TransformFilter(weight);
        Winograd.ReleaseScratch();
        Winograd.Convolve(x, filter, null);
        Winograd.Convolve(x, filter, null); // one call at a time: the second reuses the first's pair
        Assert.Equal(1, Winograd.ReleaseScratch());
        Assert.Equal(0, Winograd.ReleaseScratch());
        var again = Winograd.Convolve(x, filter, null); // allocated afresh after a release
        Assert.True(RelativeError(again, x, weight, null) < 2e-5);
    }

    [Fact]
    public void Layer_uses_winograd_only_in_inference_and_follows_weight_changes()
    {
        using var scope = NewDisposeScope();
        manual_seed(4);
        using var conv = new WinogradConv2d(128, 128) { Mode = WinogradMode.On };
        var x = randn(2, 128, 24, 30); // 1440 output positions ≥ MinPositions

        // While gradients are recorded: the plain convolution, identical to nn.Conv2d's.
        var direct = nn.functional.conv2d(x, conv.weight, conv.bias, padding: new long[] { 1, 1 });
        Assert.False(conv.TakesWinogradPath(x));
        Assert.Equal(0, (conv.call(x) - direct).abs().max().item<float>());

        using (no_grad())
        {
            Assert.True(conv.TakesWinogradPath(x));
            long before = WinogradConv2d.WinogradCalls;
            var y = conv.call(x);
            Assert.Equal(before + 1, WinogradConv2d.WinogradCalls);
            Assert.True(RelativeError(y, x, conv.weight, conv.bias) < 2e-5);

            // An in-place change of the weights (as an optimizer step or a checkpoint load makes) is picked up.
            conv.weight.mul_(-0.5);
            Assert.True(RelativeError(conv.call(x), x, conv.weight, conv.bias) < 2e-5, "recomputed filters after mul_");
            conv.weight.copy_(conv.weight.flip(2));
            Assert.True(
                RelativeError(conv.call(x), x, conv.weight, conv.bias) < 2e-5,
                "recomputed filters after a flip"
            );

            conv.Mode = WinogradMode.Off;
            Assert.False(conv.TakesWinogradPath(x));
            Assert.False(
                new WinogradConv2d(64, 64) { Mode = WinogradMode.On }.TakesWinogradPath(randn(1, 64, 40, 40)),
                "too few channels"
            );
            Assert.False(
                new WinogradConv2d(128, 128, stride: 2) { Mode = WinogradMode.On }.TakesWinogradPath(x),
                "stride 2"
            );
            Assert.False(
                new WinogradConv2d(128, 128) { Mode = WinogradMode.On }.TakesWinogradPath(randn(1, 128, 16, 16)),
                "fewer positions than MinPositions"
            );
        }
    }

    [Fact]
    public void Layer_keeps_nn_Conv2d_keys()
    {
        using var withBias = new WinogradConv2d(8, 4);
        using var noBias = new WinogradConv2d(8, 4, hasBias: false);
        Assert.Equal(["weight", "bias"], withBias.state_dict().Keys);
        Assert.Equal(["weight"], noBias.state_dict().Keys);
        Assert.Equal(new long[] { 4, 8, 3, 3 }, withBias.weight.shape);
    }

    [Theory]
    [InlineData(2, 8, 16, 7, 5)] // odd sizes: the wrapped-pair corrections at both edges of every row
    [InlineData(1, 4, 4, 1, 9)] // one row: only the middle kernel row has pairs
    [InlineData(3, 6, 5, 9, 1)] // one column: every p is in the first and the last column
    public void GradWeight_matches_autograd_of_the_direct_convolution(int n, int cin, int cout, int h, int w)
    {
        using var scope = NewDisposeScope();
        manual_seed(5);
        var x = randn(new long[] { n, cin, h, w }, dtype: float64);
        var g = randn(new long[] { n, cout, h, w }, dtype: float64);
        var weight = randn(new long[] { cout, cin, 3, 3 }, dtype: float64).requires_grad_();
        var y = nn.functional.conv2d(x, weight, padding: new long[] { 1, 1 });
        var expected = autograd.grad(new[] { y }, new[] { weight }, new[] { g })[0];
        var actual = WinogradTraining.GradWeight(x, g);
        Assert.Equal(expected.shape, actual.shape);
        Assert.True((actual - expected).abs().max().item<double>() < 1e-10 * expected.abs().max().item<double>());
    }

    [Theory]
    [InlineData(true, true)]
    [InlineData(false, false)] // only the weights need a gradient (a frozen layer below), a layer without bias
    public void Training_path_gives_the_direct_convolution_s_output_and_gradients(
        bool inputNeedsGradient,
        bool withBias
    )
    {
        using var scope = NewDisposeScope();
        manual_seed(6);
        using var conv = new WinogradConv2d(256, 256, hasBias: withBias) { Mode = WinogradMode.On };
        var x = randn(2, 256, 45, 93).ChannelsLast(); // 8370 positions ≥ MinTrainingPositions; no whole tiles
        if (inputNeedsGradient)
            x.requires_grad_();
        var g = randn(2, 256, 45, 93);

        Assert.Equal(WinogradConv2d.Path.Training, conv.PathFor(x));
        long before = WinogradConv2d.WinogradTrainingCalls;
        var y = conv.call(x);
        Assert.Equal(before + 1, WinogradConv2d.WinogradTrainingCalls);
        var inputs = new List<Tensor> { conv.weight };
        if (withBias)
            inputs.Add(conv.bias!);
        if (inputNeedsGradient)
            inputs.Add(x);
        var actual = autograd.grad(new[] { y }, inputs, new[] { g });
        WinogradTraining.ThrowIfBackwardFailed();

        var direct = nn.functional.conv2d(x, conv.weight, conv.bias, padding: new long[] { 1, 1 });
        var expected = autograd.grad(new[] { direct }, inputs, new[] { g });
        Assert.True(RelativeError(y.detach(), x.detach(), conv.weight.detach(), conv.bias?.detach()) < 2e-5);
        for (int i = 0; i < inputs.Count; i++)
        {
            double error = (actual[i] - expected[i]).abs().max().item<float>() / expected[i].abs().max().item<float>();
            Assert.True(error < 1e-4, $"gradient {i}: relative error {error:E2}");
        }

        // Fewer positions or channels, or the training path switched off: the direct convolution.
        Assert.Equal(WinogradConv2d.Path.Direct, conv.PathFor(randn(1, 256, 64, 64).requires_grad_()));
        using (var narrow = new WinogradConv2d(128, 128) { Mode = WinogradMode.On })
            Assert.Equal(WinogradConv2d.Path.Direct, narrow.PathFor(randn(2, 128, 64, 64).requires_grad_()));
        conv.Mode = WinogradMode.InferenceOnly;
        Assert.Equal(WinogradConv2d.Path.Direct, conv.PathFor(x));
        using (no_grad())
            Assert.Equal(WinogradConv2d.Path.Inference, conv.PathFor(x));
    }

    [Fact]
    public void Model_predicts_the_same_detections_with_winograd()
    {
        var config = new MaskRcnnConfig
        {
            Arch = "resnet18-fpn",
            NumClasses = 3,
            MinSize = [256],
            MaxSize = 256,
        };
        manual_seed(7);
        using var model = new MaskRCNN(config);
        model.eval();
        using var image = rand(3, 256, 256);
        Layers.UseWinograd(model, WinogradMode.Off);
        using var direct = model.Predict(image);
        Layers.UseWinograd(model, WinogradMode.On);
        {
            long before = WinogradConv2d.WinogradCalls;
            using var winograd = model.Predict(image);
            // layer2 (3 of its 4 convolutions at 32×32), the FPN's and RPN's 64×64 and 32×32 levels, the mask head (4)
            Assert.True(
                WinogradConv2d.WinogradCalls - before >= 8,
                $"{WinogradConv2d.WinogradCalls - before} convolutions took the Winograd path"
            );
            Assert.True(direct.Count > 0);
            Assert.Equal(direct.Count, winograd.Count);
            // As the side-by-side script compares with the peer: each detection matched by label, IoU ≥ 0.99, |Δscore|
            // ≤ 1e-3 (near-equal scores may swap places).
            var (_, labels, scores) = direct.ToArrays();
            var (_, labelsW, scoresW) = winograd.ToArrays();
            using var iou = BoxOps.BoxIou(direct.Boxes, winograd.Boxes);
            var used = new HashSet<int>();
            for (int i = 0; i < direct.Count; i++)
            {
                int match = Enumerable
                    .Range(0, winograd.Count)
                    .FirstOrDefault(
                        j =>
                            !used.Contains(j)
                            && labelsW[j] == labels[i]
                            && iou[i, j].item<float>() >= 0.99f
                            && Math.Abs(scoresW[j] - scores[i]) <= 1e-3,
                        -1
                    );
                Assert.True(
                    match >= 0,
                    $"detection {i} (label {labels[i]}, score {scores[i]}) has no Winograd counterpart"
                );
                used.Add(match);
            }
        }
    }
}
