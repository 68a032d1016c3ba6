using MaskRcnn.Config;
using MaskRcnn.Modeling;
using MaskRcnn.Modeling.Backbone;
using MaskRcnn.Runtime;
using MaskRcnn.Weights;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using static TorchSharp.torch;

namespace MaskRcnn.Tests.Weights;

/// <summary>
/// The offline ImageNet start point is ML.NET's ResNet-18 exactly: ONNX Runtime runs the package's own graphs and
/// our backbone, built from the initialisers we read, computes the same features.
/// </summary>
public class ImageNetWeightsTests
{
    static string Onnx =>
        ImageNetWeights.Find()
        ?? throw new InvalidOperationException(
            "the package Microsoft.ML.DnnImageFeaturizer.ResNet18 was not restored (lib/MaskRcnn downloads it)"
        );

    /// <summary>A 224×224 RGB image on the 0–255 scale with structure (gradients, a disc, noise), fixed seed.</summary>
    static float[] TestImage()
    {
        var rng = new Random(7);
        var pixels = new float[3 * 224 * 224];
        for (int c = 0; c < 3; c++)
        for (int y = 0; y < 224; y++)
        for (int x = 0; x < 224; x++)
        {
            double disc = (x - 120) * (x - 120) + (y - 90) * (y - 90) < 40 * 40 ? 80 : 0;
            pixels[(c * 224 + y) * 224 + x] = (float)
                Math.Clamp(60 + x * 0.4 + y * 0.2 * c + disc + rng.NextDouble() * 30, 0, 255);
        }
        return pixels;
    }

    static float[] RunOnnx(string path, string input, float[] data)
    {
        using var session = new InferenceSession(path);
        var tensor = new DenseTensor<float>(data, [1, 3, 224, 224]);
        using var results = session.Run([NamedOnnxValue.CreateFromTensor(input, tensor)]);
        return results.First().AsEnumerable<float>().ToArray();
    }

    [Fact]
    public void Our_backbone_computes_the_onnx_graph_s_features()
    {
        using var scope = NewDisposeScope();
        // The package's preprocessing (RGB → BGR, minus the mean image), then its network: 512 average-pooled features.
        var preprocessed = RunOnnx(ImageNetWeights.FindPreprocess()!, "OriginalInput", TestImage());
        var expected = RunOnnx(Onnx, "Input247", preprocessed);
        Assert.Equal(512, expected.Length);

        // Ours on the same preprocessed input, given in RGB order because we reorder conv1's input channels.
        var body = new ResNetBody("resnet18-mlnet", NormKind.Frozen);
        var state = ImageNetWeights
            .ReadBackbone(Onnx)
            .ToDictionary(kv => kv.Key["backbone.body.".Length..], kv => kv.Value);
        Assert.Equal(22 * 5, state.Count); // 22 convolutions, each with a BatchNormalization of 4 tensors
        var report = StateDicts.Load(body, state);
        Assert.True(report.IsExact);
        body.eval();
        var bgr = tensor(preprocessed).view(1, 3, 224, 224);
        var rgb = bgr.flip(1);
        foreach (bool winograd in new[] { false, true })
        {
            Layers.UseWinograd(body, winograd ? WinogradMode.On : WinogradMode.Off);
            using var noGrad = no_grad();
            var features = body.call(rgb)[3].mean([2, 3]).view(-1).data<float>().ToArray();
            double scale = expected.Max(Math.Abs);
            double worst = expected.Zip(features, (a, b) => Math.Abs(a - b)).Max() / scale;
            // Direct convolutions: within float32 rounding of the graph's own (≤ 1e-4 of the largest feature);
            // Winograd tiles (our CPU inference path) round differently, a little more.
            Assert.True(worst <= (winograd ? 1e-3 : 1e-4), $"winograd={winograd}: max relative difference {worst:E2}");
        }
    }

    [Fact]
    public void The_normalisation_is_the_mean_image_s_channel_means_on_the_0_255_scale()
    {
        using var scope = NewDisposeScope();
        var mean = ImageNetWeights.ReadMeanImage(ImageNetWeights.FindPreprocess()!);
        Assert.Equal([3L, 224, 224], mean.shape);
        var channelMeans = mean.mean([1, 2]).data<float>().ToArray();
        for (int c = 0; c < 3; c++)
        {
            Assert.Equal(channelMeans[c] / 255.0, ImageNetWeights.ImageMean[c], 5);
            Assert.Equal(1 / 255.0, ImageNetWeights.ImageStd[c], 9);
        }
        // The preset that trains from it normalises the same way.
        var walkthrough = Presets.Walkthrough();
        Assert.Equal(ImageNetWeights.Arch, walkthrough.Arch);
        Assert.Equal(ImageNetWeights.ImageMean, walkthrough.ImageMean);
        Assert.Equal(ImageNetWeights.ImageStd, walkthrough.ImageStd);
    }

    [Fact]
    public void The_walkthrough_model_loads_the_backbone_and_keeps_its_heads()
    {
        using var scope = NewDisposeScope();
        manual_seed(1);
        using var model = new MaskRCNN(Presets.Walkthrough());
        var fpnBefore = model.state_dict()["backbone.fpn.inner_blocks.0.0.weight"].clone();
        string said = StartPoint.Apply(model, "imagenet");
        Assert.Contains("110 tensors", said);
        var sd = model.state_dict();
        Assert.Equal(fpnBefore, sd["backbone.fpn.inner_blocks.0.0.weight"]);
        Assert.True(sd["backbone.body.bn1.running_var"].mean().item<float>() > 1000); // the 0–255 input scale
        Assert.True(sd.ContainsKey("backbone.body.layer4.2.conv2.weight")); // layer4 has a third block

        // Another architecture is refused with the reason.
        using var other = new MaskRCNN(Presets.CpuQuick());
        var e = Assert.Throws<MaskRcnnException>(() => StartPoint.Apply(other, "imagenet"));
        Assert.Contains("resnet18-mlnet-fpn", e.Message);
    }
}
