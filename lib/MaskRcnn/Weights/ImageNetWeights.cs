using MaskRcnn.Modeling;
using MaskRcnn.Runtime;
using Onnx;
using TorchSharp;
using static TorchSharp.torch;

namespace MaskRcnn.Weights;

/// <summary>
/// The offline pretrained start point: ML.NET's ImageNet-trained ResNet-18, shipped as ONNX in the NuGet package
/// Microsoft.ML.DnnImageFeaturizer.ResNet18 0.23.1 (MIT; tools/DnnImageModels/ResNet18Onnx/ResNet18.onnx), which
/// the build downloads like any package. Its graph, read here (and checked by the tests against ONNX Runtime):
/// 22 convolutions and 22 BatchNormalizations (eps 1e-5) in basic blocks 2, 2, 2, 3; conv1 7×7/2 padded 3 before and
/// 2 after; a 3×3/2 max-pool and every stride-2 3×3 conv padded 1 before and 0 after; 1×1/2 conv + BN shortcuts; a
/// 7×7 average pool (no classifier). Its input is BGR on the 0–255 scale minus a 224×224 mean image
/// (ResNetPreprocess.onnx), with no division by a standard deviation.
/// <para>
/// A detector sees images of any size, so the mean image becomes its per-channel mean (<see cref="ImageMean"/>, as
/// matterport's MEAN_PIXEL does for Caffe's ResNets), and conv1's input channels are reordered to RGB, which our
/// images are: the network is otherwise unchanged (arch <c>resnet18-mlnet-fpn</c>).
/// </para>
/// </summary>
public static class ImageNetWeights
{
    public const string PackageId = "Microsoft.ML.DnnImageFeaturizer.ResNet18";
    public const string PackageVersion = "0.23.1";
    public const string Arch = "resnet18-mlnet-fpn";
    const string ModelInPackage = "tools/DnnImageModels/ResNet18Onnx/ResNet18.onnx";
    const string PreprocessInPackage = "tools/DnnImageModels/ResNetPrepOnnx/ResNetPreprocess.onnx";

    /// <summary>
    /// The per-channel means of the package's mean image (R, G, B; 123.152, 115.903, 103.063 on the 0–255 scale),
    /// on our 0–1 scale. The tests recompute them from ResNetPreprocess.onnx.
    /// </summary>
    public static readonly double[] ImageMean = [123.152 / 255, 115.903 / 255, 103.063 / 255];

    /// <summary>1/255: our 0–1 images back on the 0–255 scale the network was trained on.</summary>
    public static readonly double[] ImageStd = [1 / 255.0, 1 / 255.0, 1 / 255.0];

    /// <summary>The NuGet package folder of the ONNX files, or null when the package has not been restored.</summary>
    public static string? PackageFolder()
    {
        string id = PackageId.ToLowerInvariant();
        var roots = new List<string?>
        {
            RuntimeOptions.NuGetPackages,
            Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages"),
        };
        return roots
            .Where(r => !string.IsNullOrEmpty(r))
            .Select(r => Path.Combine(r!, id, PackageVersion))
            .FirstOrDefault(d => File.Exists(Path.Combine(d, ModelInPackage)));
    }

    /// <summary>ResNet18.onnx, or null.</summary>
    public static string? Find() => PackageFolder() is { } d ? Path.Combine(d, ModelInPackage) : null;

    /// <summary>ResNetPreprocess.onnx (the mean image), or null.</summary>
    public static string? FindPreprocess() => PackageFolder() is { } d ? Path.Combine(d, PreprocessInPackage) : null;

    /// <summary>ResNet18.onnx, or an error that says how to get it.</summary>
    public static string Ensure() =>
        Find()
        ?? throw new MaskRcnnException(
            $"the ImageNet weights are not here: they come with the NuGet package {PackageId} {PackageVersion} "
                + $"(restored into ~/.nuget/packages or $NUGET_PACKAGES by 'dotnet restore' of this repository); "
                + "or pass --weights PATH/ResNet18.onnx"
        );

    /// <summary>
    /// The backbone's state dict (torchvision names under <c>backbone.body.</c>, conv1 in RGB order) read from the
    /// ONNX graph: convolutions and batch norms in graph order, each BatchNormalization checked to read its
    /// convolution's output.
    /// </summary>
    public static Dictionary<string, Tensor> ReadBackbone(string onnxPath)
    {
        ModelProto model;
        try
        {
            model = ModelProto.Parser.ParseFrom(File.ReadAllBytes(onnxPath));
        }
        catch (Exception e) when (e is Google.Protobuf.InvalidProtocolBufferException or IOException)
        {
            throw new MaskRcnnException($"{onnxPath}: not a readable ONNX model ({e.Message})", e);
        }
        var graph = model.Graph;
        var initializers = graph.Initializer.ToDictionary(t => t.Name);
        var convs = graph.Node.Where(n => n.OpType == "Conv").ToList();
        var names = TorchvisionOrder();
        if (convs.Count != names.Count)
            throw new MaskRcnnException(
                $"{onnxPath}: {convs.Count} convolutions, but ML.NET's ResNet-18 has {names.Count}"
            );
        var state = new Dictionary<string, Tensor>();
        for (int i = 0; i < convs.Count; i++)
        {
            var (conv, norm) = names[i];
            var weight = Tensor(initializers, convs[i].Input[1], onnxPath);
            state[$"backbone.body.{conv}.weight"] = conv == "conv1" ? weight.flip(1).contiguous() : weight; // BGR → RGB
            var bn =
                graph.Node.SingleOrDefault(n => n.OpType == "BatchNormalization" && n.Input[0] == convs[i].Output[0])
                ?? throw new MaskRcnnException($"{onnxPath}: no BatchNormalization after {convs[i].Name}");
            string[] parts = ["weight", "bias", "running_mean", "running_var"];
            for (int k = 0; k < parts.Length; k++)
                state[$"backbone.body.{norm}.{parts[k]}"] = Tensor(initializers, bn.Input[k + 1], onnxPath);
        }
        return state;
    }

    /// <summary>The 22 (conv, norm) names in the order the ONNX graph lists its convolutions.</summary>
    static List<(string Conv, string Norm)> TorchvisionOrder()
    {
        var names = new List<(string, string)> { ("conv1", "bn1") };
        int[] blocks = Modeling.Backbone.ResNetBody.Layouts["resnet18-mlnet"].Blocks;
        for (int layer = 1; layer <= blocks.Length; layer++)
        {
            for (int b = 0; b < blocks[layer - 1]; b++)
            {
                string block = $"layer{layer}.{b}";
                if (b == 0 && layer > 1)
                    names.Add(($"{block}.downsample.0", $"{block}.downsample.1")); // the graph lists the shortcut first
                names.Add(($"{block}.conv1", $"{block}.bn1"));
                names.Add(($"{block}.conv2", $"{block}.bn2"));
            }
        }
        return names;
    }

    static Tensor Tensor(Dictionary<string, TensorProto> initializers, string name, string path)
    {
        if (!initializers.TryGetValue(name, out var t))
            throw new MaskRcnnException($"{path}: initializer '{name}' is missing");
        if (t.DataType != (int)TensorProto.Types.DataType.Float)
            throw new MaskRcnnException($"{path}: initializer '{name}' is not float32 (type {t.DataType})");
        float[] values =
            t.FloatData.Count > 0
                ? t.FloatData.ToArray()
                : System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(t.RawData.Span).ToArray();
        return torch.tensor(values).view(t.Dims.ToArray());
    }

    /// <summary>
    /// The package's mean image (BGR, 0–255) as [3, 224, 224] in RGB order: what ResNetPreprocess.onnx subtracts.
    /// </summary>
    public static Tensor ReadMeanImage(string preprocessPath)
    {
        var graph = ModelProto.Parser.ParseFrom(File.ReadAllBytes(preprocessPath)).Graph;
        var init = graph.Initializer.ToDictionary(t => t.Name);
        return Tensor(init, "MeanImage", preprocessPath)[0].flip(0).contiguous();
    }

    /// <summary>
    /// Loads the ImageNet backbone into <paramref name="model"/>, whose arch must be <see cref="Arch"/> and whose
    /// normalisation must be <see cref="ImageMean"/> / <see cref="ImageStd"/> (the walkthrough preset's); FPN and heads
    /// keep their initialisation.
    /// </summary>
    public static PretrainedReport LoadInto(MaskRCNN model, string? onnxPath = null)
    {
        var config = model.Config;
        if (config.Arch != Arch)
            throw new MaskRcnnException(
                $"--weights imagenet: the ImageNet weights are ML.NET's ResNet-18 (arch {Arch}, as the "
                    + $"walkthrough preset sets), not {config.Arch}"
            );
        static bool Close(double[] a, double[] b) =>
            a.Length == b.Length && a.Zip(b).All(p => Math.Abs(p.First - p.Second) < 1e-4);
        if (!Close(config.ImageMean, ImageMean) || !Close(config.ImageStd, ImageStd))
            throw new MaskRcnnException(
                "--weights imagenet: image_mean/image_std must be the network's own "
                    + $"([{string.Join(", ", ImageMean.Select(v => v.ToString("F4")))}] / 1/255; the walkthrough "
                    + "preset sets them)"
            );
        onnxPath ??= Ensure();
        var state = ReadBackbone(onnxPath);
        try
        {
            var report = StateDicts.Load(model, state, strict: false, sourceName: onnxPath);
            if (report.Unexpected.Count > 0 || report.ShapeMismatches.Count > 0 || report.Loaded.Count != state.Count)
                throw new MaskRcnnException(
                    $"{onnxPath} does not fit the backbone: "
                        + $"{string.Join("; ", report.Unexpected.Concat(report.ShapeMismatches))}"
                );
            return new PretrainedReport(
                $"{Path.GetFileName(onnxPath)} (ImageNet ResNet-18, {PackageId} {PackageVersion})",
                report.Loaded.Count,
                [],
                []
            );
        }
        finally
        {
            foreach (var t in state.Values)
                t.Dispose();
        }
    }
}
