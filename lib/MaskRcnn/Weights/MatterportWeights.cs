using MaskRcnn.Config;
using MaskRcnn.Modeling;
using PureHDF;
using TorchSharp;
using static TorchSharp.torch;

namespace MaskRcnn.Weights;

/// <summary>What a matterport import set, and what it could not use.</summary>
public sealed record MatterportImportReport(
    IReadOnlyList<string> Loaded,
    IReadOnlyList<string> NotInFile,
    IReadOnlyList<string> UnusedLayers,
    IReadOnlyList<string> Notes
)
{
    public override string ToString() =>
        $"matterport weights: {Loaded.Count} tensors loaded; {NotInFile.Count} model tensors not in the file (left "
        + $"as initialised); {UnusedLayers.Count} file layers unused "
        + $"({string.Join(", ", UnusedLayers.Take(8))}{(UnusedLayers.Count > 8 ? ", …" : "")})"
        + (Notes.Count > 0 ? "\n  " + string.Join("\n  ", Notes) : "");
}

/// <summary>
/// Imports matterport's Keras Mask R-CNN weights (mask_rcnn_coco.h5: ResNet-50/101-FPN, HDF5 written by Keras)
/// through PureHDF, onto our torchvision-named modules.
/// <list type="bullet">
/// <item><b>Transfers:</b> the ResNet body (res2a…res5c, kernels [h, w, in, out] → [out, in, h, w]; the convolutions'
/// biases folded into the following frozen BatchNorm; Keras BN eps 1e-3 kept by adjusting running_var), the FPN
/// (fpn_c2p2…fpn_c5p5 → inner_blocks, fpn_p2…fpn_p5 → layer_blocks), the box head (mrcnn_class_conv1/2 with
/// their BatchNorm folded → fc6/fc7), the mask head (mrcnn_mask_conv1–4 with BN folded, mrcnn_mask_deconv →
/// conv5_mask), and — when the class count matches — mrcnn_class_logits, mrcnn_bbox_fc (deltas reordered from
/// (dy, dx, dh, dw) to (dx, dy, dw, dh)) and mrcnn_mask.</item>
/// <item><b>Does not transfer:</b> the RPN (matterport's has 512 channels and a 2-way softmax per anchor in another
/// anchor order); class-specific layers when the class count differs (81 COCO classes vs ours).</item>
/// <item><b>Set for faithful features:</b> the model should use StrideInOneByOne = true (matterport strides in the
/// 1×1 conv) and matterport's input normalisation (mean pixel 123.7, 116.8, 103.9 on a 0–255 scale, no std):
/// <see cref="ConfigFor"/> gives both.</item>
/// </list>
/// RoI pooling and the stem's "same"-padded max-pool differ slightly between the implementations.
/// </summary>
public static class MatterportWeights
{
    const double KerasBnEps = 1e-3;

    /// <summary>A config whose backbone and input match matterport's (from a base config, e.g. the seed
    /// preset).</summary>
    public static MaskRcnnConfig ConfigFor(MaskRcnnConfig baseConfig) =>
        baseConfig with
        {
            StrideInOneByOne = true,
            ImageMean = [123.7 / 255, 116.8 / 255, 103.9 / 255],
            ImageStd = [1 / 255.0, 1 / 255.0, 1 / 255.0],
        };

    /// <summary>Every weight in a Keras HDF5 file: "layer/variable" (e.g. "res2a_branch2a/kernel") → (values,
    /// shape).</summary>
    public static Dictionary<string, (float[] Data, long[] Shape)> Read(string path)
    {
        IO.InputFile.Check(path, "matterport weights file", IO.InputFile.MaxWeightsBytes);
        var result = new Dictionary<string, (float[], long[])>();
        try
        {
            using var file = H5File.OpenRead(path);
            IH5Group root = file.LinkExists("model_weights") ? (IH5Group)file.Get("model_weights") : file;
            foreach (var layer in root.Children().OfType<IH5Group>())
                Collect(layer, layer.Name, result);
        }
        catch (Exception e) when (e is not MaskRcnnException)
        {
            throw new MaskRcnnException($"{path}: not a readable Keras HDF5 weights file ({e.Message})", e);
        }
        if (result.Count == 0)
            throw new MaskRcnnException($"{path}: holds no weights");
        return result;
    }

    static void Collect(IH5Group group, string layer, Dictionary<string, (float[], long[])> into)
    {
        foreach (var child in group.Children())
        {
            if (child is IH5Group g)
            {
                Collect(g, layer, into);
                continue;
            }
            if (child is not IH5Dataset ds)
                continue;
            string variable = child.Name.Split(':')[0];
            into[$"{layer}/{variable}"] = (ds.Read<float[]>(), ds.Space.Dimensions.Select(d => (long)d).ToArray());
        }
    }

    /// <summary>Loads what maps onto <paramref name="model"/> (see the class summary).</summary>
    public static MatterportImportReport Import(MaskRCNN model, string path)
    {
        var file = Read(path);
        var target = model.state_dict();
        var values = new Dictionary<string, Tensor>();
        var used = new HashSet<string>();
        var notes = new List<string>();
        var cfg = model.Config;
        if (cfg.BackboneDepth is not ("resnet50" or "resnet101"))
            throw new MaskRcnnException($"matterport's models are ResNet-50/101-FPN; this model is {cfg.Arch}");
        if (!cfg.StrideInOneByOne)
            notes.Add(
                "the model strides in the 3×3 conv (torchvision); matterport strides in the 1×1: use "
                    + "MatterportWeights.ConfigFor for identical backbone features"
            );

        using var scope = NewDisposeScope();
        Tensor? Get(string name)
        {
            if (!file.TryGetValue(name, out var v))
                return null;
            used.Add(name.Split('/')[0]);
            return tensor(v.Data, v.Shape);
        }
        Tensor Conv(Tensor k) => k.permute(3, 2, 0, 1).contiguous(); // [h, w, in, out] → [out, in, h, w]

        // A conv followed by a frozen BatchNorm: bias folded into running_mean, Keras eps kept.
        void ConvBn(string conv, string bn, string ourConv, string ourBn)
        {
            var k = Get($"{conv}/kernel");
            if (k is null)
                return;
            values[$"{ourConv}.weight"] = Conv(k);
            var b = Get($"{conv}/bias");
            var gamma = Get($"{bn}/gamma");
            var beta = Get($"{bn}/beta");
            var mean = Get($"{bn}/moving_mean");
            var variance = Get($"{bn}/moving_variance");
            if (gamma is null || beta is null || mean is null || variance is null)
                return;
            values[$"{ourBn}.weight"] = gamma;
            values[$"{ourBn}.bias"] = beta;
            values[$"{ourBn}.running_mean"] = b is null ? mean : mean - b;
            values[$"{ourBn}.running_var"] = variance + (KerasBnEps - 1e-5);
        }

        // A conv or dense layer with a BatchNorm folded in (our heads have none).
        (Tensor W, Tensor B)? Folded(string conv, string bn, Func<Tensor, Tensor> layout)
        {
            var k = Get($"{conv}/kernel");
            if (k is null)
                return null;
            var w = layout(k);
            var b = Get($"{conv}/bias") ?? zeros(w.shape[0]);
            var gamma = Get($"{bn}/gamma");
            if (gamma is null)
                return (w, b);
            var scale = gamma / (Get($"{bn}/moving_variance")! + KerasBnEps).sqrt();
            var shape = new long[w.dim()];
            Array.Fill(shape, 1L);
            shape[0] = -1;
            return (w * scale.view(shape), (b - Get($"{bn}/moving_mean")!) * scale + Get($"{bn}/beta")!);
        }

        // ResNet body.
        ConvBn("conv1", "bn_conv1", "backbone.body.conv1", "backbone.body.bn1");
        if (Get("conv1/bias") is not null)
            notes.Add("conv1's bias is folded into bn1 (torchvision's conv1 has none)");
        int[] blocks = Modeling.Backbone.ResNetBody.Layouts[cfg.BackboneDepth].Blocks;
        for (int stage = 2; stage <= 5; stage++)
        for (int k = 0; k < blocks[stage - 2]; k++)
        {
            string block = $"{stage}{(char)('a' + k)}",
                ours = $"backbone.body.layer{stage - 1}.{k}";
            ConvBn($"res{block}_branch2a", $"bn{block}_branch2a", $"{ours}.conv1", $"{ours}.bn1");
            ConvBn($"res{block}_branch2b", $"bn{block}_branch2b", $"{ours}.conv2", $"{ours}.bn2");
            ConvBn($"res{block}_branch2c", $"bn{block}_branch2c", $"{ours}.conv3", $"{ours}.bn3");
            if (k == 0)
                ConvBn($"res{block}_branch1", $"bn{block}_branch1", $"{ours}.downsample.0", $"{ours}.downsample.1");
        }

        // FPN.
        for (int level = 2; level <= 5; level++)
        {
            foreach (
                var (name, ours) in new[]
                {
                    ($"fpn_c{level}p{level}", $"backbone.fpn.inner_blocks.{level - 2}.0"),
                    ($"fpn_p{level}", $"backbone.fpn.layer_blocks.{level - 2}.0"),
                }
            )
            {
                if (Get($"{name}/kernel") is Tensor k)
                    values[$"{ours}.weight"] = Conv(k);
                if (Get($"{name}/bias") is Tensor b)
                    values[$"{ours}.bias"] = b;
            }
        }

        // Box head: 7×7 "conv" over 7×7 RoIs = a fully connected layer.
        if (Folded("mrcnn_class_conv1", "mrcnn_class_bn1", k => Conv(k).flatten(1)) is var (w6, b6))
        {
            values["roi_heads.box_head.fc6.weight"] = w6;
            values["roi_heads.box_head.fc6.bias"] = b6;
        }
        if (Folded("mrcnn_class_conv2", "mrcnn_class_bn2", k => Conv(k).flatten(1)) is var (w7, b7))
        {
            values["roi_heads.box_head.fc7.weight"] = w7;
            values["roi_heads.box_head.fc7.bias"] = b7;
        }
        if (Get("mrcnn_class_logits/kernel") is Tensor cls)
        {
            values["roi_heads.box_predictor.cls_score.weight"] = cls.t().contiguous();
            values["roi_heads.box_predictor.cls_score.bias"] = Get("mrcnn_class_logits/bias")!;
        }
        if (Get("mrcnn_bbox_fc/kernel") is Tensor bbox)
        {
            // matterport: (dy, dx, log dh, log dw) per class; torchvision: (dx, dy, dw, dh).
            long k4 = bbox.shape[1];
            var order = tensor(
                Enumerable.Range(0, (int)k4).Select(i => (long)(i / 4 * 4 + new[] { 1, 0, 3, 2 }[i % 4])).ToArray()
            );
            values["roi_heads.box_predictor.bbox_pred.weight"] = bbox.t().index_select(0, order).contiguous();
            values["roi_heads.box_predictor.bbox_pred.bias"] = Get("mrcnn_bbox_fc/bias")!.index_select(0, order);
        }

        // Mask head.
        for (int i = 1; i <= 4; i++)
            if (Folded($"mrcnn_mask_conv{i}", $"mrcnn_mask_bn{i}", Conv) is var (wm, bm))
            {
                values[$"roi_heads.mask_head.{i - 1}.0.weight"] = wm;
                values[$"roi_heads.mask_head.{i - 1}.0.bias"] = bm;
            }
        if (Get("mrcnn_mask_deconv/kernel") is Tensor deconv) // [h, w, out, in] → [in, out, h, w]
        {
            values["roi_heads.mask_predictor.conv5_mask.weight"] = deconv.permute(3, 2, 0, 1).contiguous();
            values["roi_heads.mask_predictor.conv5_mask.bias"] = Get("mrcnn_mask_deconv/bias")!;
        }
        if (Get("mrcnn_mask/kernel") is Tensor mask)
        {
            values["roi_heads.mask_predictor.mask_fcn_logits.weight"] = Conv(mask);
            values["roi_heads.mask_predictor.mask_fcn_logits.bias"] = Get("mrcnn_mask/bias")!;
        }

        // Copy what fits; class-specific layers of another class count stay initialised.
        var loaded = new List<string>();
        using (no_grad())
        {
            foreach (var (key, value) in values)
            {
                if (!target.TryGetValue(key, out var dest))
                    throw new MaskRcnnException(
                        $"{path}: maps to '{key}', which this model does not have (is it a Mask R-CNN with "
                            + "torchvision's layout?)"
                    );
                if (!dest.shape.SequenceEqual(value.shape))
                {
                    if (StartPoint.ClassSpecificPrefixes.Any(key.StartsWith))
                    {
                        notes.Add(
                            $"{key}: {value.shape[0]} classes in the file, {cfg.NumClasses} in the model — left "
                                + "initialised"
                        );
                        continue;
                    }
                    throw new MaskRcnnException(
                        $"{path}: '{key}' has shape [{string.Join(", ", value.shape)}] in the file but "
                            + $"[{string.Join(", ", dest.shape)}] in the model"
                    );
                }
                dest.copy_(value);
                loaded.Add(key);
            }
        }
        var notInFile = target
            .Keys.Where(k => !values.ContainsKey(k) && !k.EndsWith("num_batches_tracked"))
            .Order(StringComparer.Ordinal)
            .ToList();
        var unused = file
            .Keys.Select(k => k.Split('/')[0])
            .Distinct()
            .Where(l => !used.Contains(l))
            .Order(StringComparer.Ordinal)
            .ToList();
        return new MatterportImportReport(loaded.Order(StringComparer.Ordinal).ToList(), notInFile, unused, notes);
    }
}
