using System.Diagnostics;
using MaskRcnn.Modeling;
using MaskRcnn.Modeling.Kernels;
using MaskRcnn.Modeling.Ops;
using MaskRcnn.Modeling.RoiHeads;
using MaskRcnn.Modeling.Transform;
using MaskRcnn.Runtime;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MaskRcnn.Profiling;

/// <summary>One stage of inference: wall time and floating-point operations (multiply + add counted as 2).</summary>
public sealed record StageTime(string Stage, double Seconds, double Flops);

/// <summary>
/// Times inference stage by stage, running the same public stage methods <see cref="MaskRCNN.Predict(Tensor)"/>
/// runs, in the same order; the RoI heads' sub-stages (<see cref="RoIHeads.ClassifyBoxes(Tensor[],
/// IReadOnlyList{Tensor}, IReadOnlyList{ValueTuple{long, long}})"/>, <see cref="RoIHeads.PostprocessDetections"/>,
/// <see cref="RoIHeads.PredictMasks"/>) are split where their head starts, RoIAlign before it. FLOPs: convolutions,
/// transposed convolutions and linear layers are counted from their weights and output shapes with forward hooks;
/// RoIAlign as 4 bilinear taps × 2 per sample and channel. Element-wise work (ReLU, batch norm, NMS, decoding) is not
/// counted: it is small next to the matrix products. On a GPU each stage ends with a synchronisation so its time is
/// its own.
/// </summary>
public static class StageProfiler
{
    public static IReadOnlyList<StageTime> Profile(MaskRCNN model, Tensor image)
    {
        bool wasTraining = model.training;
        model.eval();
        double flops = 0;
        var hooks = HookLayers(model, f => flops += f);
        using var call = ModelCalls.Step();
        try
        {
            using var noGrad = no_grad();
            using var scope = NewDisposeScope();
            var stages = new List<StageTime>();
            var device = model.Device;
            void Synchronize()
            {
                if (device.type == DeviceType.CUDA)
                    cuda.synchronize(device);
            }
            T Time<T>(string stage, Func<T> run)
            {
                double before = flops;
                var sw = Stopwatch.StartNew();
                var result = run();
                Synchronize();
                stages.Add(new StageTime(stage, sw.Elapsed.TotalSeconds, flops - before));
                return result;
            }
            // A sub-stage that pools RoI features and then runs a head: timed as two stages, split when the head
            // starts.
            T TimePooledHead<T>(
                string pooling,
                string head,
                nn.Module<Tensor, Tensor> headModule,
                int samplingRatio,
                Func<T> run
            )
            {
                double before = flops;
                double splitFlops = 0;
                double poolingFlops = 0;
                double split = 0;
                var sw = Stopwatch.StartNew();
                var hook = headModule.register_forward_pre_hook(
                    (_, pooled) =>
                    {
                        Synchronize();
                        split = sw.Elapsed.TotalSeconds;
                        splitFlops = flops;
                        poolingFlops = RoIAlignFlops(pooled, samplingRatio);
                        return pooled;
                    }
                );
                try
                {
                    var result = run();
                    Synchronize();
                    double total = sw.Elapsed.TotalSeconds;
                    stages.Add(new StageTime(pooling, split, splitFlops - before + poolingFlops));
                    stages.Add(new StageTime(head, total - split, flops - splitFlops));
                    return result;
                }
                finally
                {
                    hook.remove();
                }
            }

            ImageList list;
            List<RoiDetections> detections;
            using (model.PrecisionScope()) // the network's stages, as Predict runs them
            {
                var heads = model.RoiHeads;
                (list, _) = Time("preprocess (normalise, resize, pad)", () => model.Preprocess([image]));
                var features = Time("backbone + FPN", () => model.Features(list.Tensors));
                var pooledLevels = features[..MaskRCNN.PooledLevels];
                var rpn = Time("RPN (head, decode, NMS)", () => model.ProposeRegions(list, features));
                var boxes = TimePooledHead(
                    "box RoIAlign",
                    "box head (2 FC + predictor)",
                    heads.BoxHead,
                    heads.BoxRoiPool.SamplingRatio,
                    () => heads.ClassifyBoxes(pooledLevels, rpn.Proposals, list.ImageSizes)
                );
                detections = Time(
                    "box postprocess (decode, NMS)",
                    () =>
                        heads
                            .PostprocessDetections(
                                boxes.ClassLogits,
                                boxes.BoxRegression,
                                rpn.Proposals,
                                list.ImageSizes
                            )
                            .Detections
                );
                if (heads.HasMask)
                {
                    var masks = TimePooledHead(
                        "mask RoIAlign",
                        "mask head (4 conv + deconv + predictor)",
                        heads.MaskHead!,
                        heads.MaskRoiPool.SamplingRatio,
                        () => heads.PredictMasks(pooledLevels, detections, list.ImageSizes)
                    );
                    detections = masks.Detections.ToList();
                }
            }
            var original = (image.shape[^2], image.shape[^1]);
            Time("paste masks into the image", () => model.Postprocess(detections[0], list.ImageSizes[0], original));
            return stages;
        }
        finally
        {
            foreach (var remove in hooks)
                remove();
            if (wasTraining)
                model.train();
        }
    }

    /// <summary>4 taps, a multiply and an add each, per sample (sampling ratio² per bin) and channel.</summary>
    static double RoIAlignFlops(Tensor pooled, int samplingRatio) =>
        pooled.numel() * 8.0 * Math.Max(1, samplingRatio) * Math.Max(1, samplingRatio);

    /// <summary>weight [out, in/groups, kh, kw]: each output element is a dot product of in/groups·kh·kw
    /// terms.</summary>
    static double ConvolutionFlops(Tensor weight, Tensor output) =>
        2.0 * output.numel() * weight.shape[1] * weight.shape[2] * weight.shape[3];

    static List<Action> HookLayers(MaskRCNN model, Action<double> add)
    {
        var hooks = new List<Action>();
        foreach (var (_, module) in model.named_modules())
        {
            Func<Tensor, Tensor, double>? count = module switch
            {
                Conv2d conv => (input, output) => ConvolutionFlops(conv.weight!, output),
                // counted as the direct convolution it computes (the Winograd path does ~4× fewer multiply-adds)
                WinogradConv2d conv => (input, output) => ConvolutionFlops(conv.weight, output),
                // weight [in, out/groups, kh, kw]: each input element is scattered
                ConvTranspose2d deconv => (input, output) =>
                {
                    var w = deconv.weight!.shape;
                    return 2.0 * input.numel() * w[1] * w[2] * w[3];
                },
                ChannelsLastConv2d conv => (input, output) => ConvolutionFlops(conv.weight, output),
                FullPrecisionOutputConv2d conv => (input, output) => ConvolutionFlops(conv.weight, output),
                FlattenedLinear flattened => (input, output) => 2.0 * output.numel() * flattened.InFeatures,
                FullPrecisionLinear linear => (input, output) => 2.0 * output.numel() * linear.InFeatures,
                FullPrecisionOutputLinear linear => (input, output) => 2.0 * output.numel() * linear.InFeatures,
                Linear linear => (input, output) => 2.0 * output.numel() * linear.weight!.shape[1],
                _ => null,
            };
            if (count is null)
                continue;
            var hook = ((nn.Module<Tensor, Tensor>)module).register_forward_hook(
                (m, input, output) =>
                {
                    add(count(input, output));
                    return null!; // keep the output
                }
            );
            hooks.Add(() => hook.remove());
        }
        return hooks;
    }
}
