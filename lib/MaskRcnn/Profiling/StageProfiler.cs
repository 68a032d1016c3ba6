using System.Diagnostics;
using MaskRcnn.Modeling;
using MaskRcnn.Modeling.Ops;
using MaskRcnn.Modeling.RoiHeads;
using MaskRcnn.Modeling.Transform;
using MaskRcnn.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace MaskRcnn.Profiling;

/// <summary>One stage of inference or of a training step: wall time and the floating-point operations it computes
/// (multiply + add counted as 2; a backward stage's by <see cref="FlopCounter"/>'s rule).</summary>
public sealed record StageTime(string Stage, double Seconds, double Flops);

/// <summary>
/// Times inference stage by stage, running the same public stage methods <see cref="MaskRCNN.Predict(Tensor)"/>
/// runs, in the same order; the RoI heads' sub-stages (<see cref="RoIHeads.ClassifyBoxes(Tensor[],
/// IReadOnlyList{Tensor}, IReadOnlyList{ValueTuple{long, long}})"/>, <see cref="RoIHeads.PostprocessDetections"/>,
/// <see cref="RoIHeads.PredictMasks"/>) are split where their head starts, RoIAlign before it. FLOPs are counted by
/// <see cref="FlopCounter"/> (convolutions, transposed convolutions, linear layers and RoIAlign; element-wise work is
/// not counted). On a GPU each stage ends with a synchronisation so its time is its own.
/// </summary>
public static class StageProfiler
{
    public static IReadOnlyList<StageTime> Profile(MaskRCNN model, Tensor image)
    {
        bool wasTraining = model.training;
        model.eval();
        using var counter = FlopCounter.Attach(model);
        double Flops() => counter.Forward;
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
                double before = Flops();
                var sw = Stopwatch.StartNew();
                var result = run();
                Synchronize();
                stages.Add(new StageTime(stage, sw.Elapsed.TotalSeconds, Flops() - before));
                return result;
            }
            // A sub-stage that pools RoI features and then runs a head: timed as two stages, split when the head
            // starts. The counter's own hook on the head, registered first, has counted the RoIAlign by then.
            T TimePooledHead<T>(string pooling, string head, nn.Module<Tensor, Tensor> headModule, Func<T> run)
            {
                double before = Flops();
                double splitFlops = 0;
                double split = 0;
                var sw = Stopwatch.StartNew();
                var hook = headModule.register_forward_pre_hook(
                    (_, pooled) =>
                    {
                        Synchronize();
                        split = sw.Elapsed.TotalSeconds;
                        splitFlops = Flops();
                        return pooled;
                    }
                );
                try
                {
                    var result = run();
                    Synchronize();
                    double total = sw.Elapsed.TotalSeconds;
                    stages.Add(new StageTime(pooling, split, splitFlops - before));
                    stages.Add(new StageTime(head, total - split, Flops() - splitFlops));
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
            if (wasTraining)
                model.train();
        }
    }
}
