using System.Diagnostics;
using MaskRcnn.Modeling;
using MaskRcnn.Modeling.RoiHeads;
using MaskRcnn.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace MaskRcnn.Profiling;

/// <summary>
/// Times one training step phase by phase: the forward stages (the same public stage methods
/// <see cref="MaskRCNN.Losses"/> runs), then the backward pass in three parts — the RoI heads' losses, the RPN's
/// losses, then the backbone + FPN (fed the features' gradients from both) — then the optimizer step.
/// The split needs the features detached once for each head, so a profiled step does a little more work than a plain
/// one (two gradient buffers per FPN level, summed); the sum of the phases is close to the plain step's time.
/// </summary>
public static class TrainingStepProfiler
{
    public static IReadOnlyList<StageTime> Profile(
        MaskRCNN model,
        IReadOnlyList<Tensor> images,
        IReadOnlyList<TargetTensors> targets,
        optim.Optimizer optimizer,
        ComputePrecision precision = ComputePrecision.Float32
    )
    {
        if (!model.training)
            throw new InvalidOperationException(
                "profiling a training step needs training mode: call model.train() first"
            );
        using var call = ModelCalls.Step();
        using var scope = NewDisposeScope();
        var stages = new List<StageTime>();
        var device = model.Device;
        T Time<T>(string stage, Func<T> run)
        {
            var sw = Stopwatch.StartNew();
            var result = run();
            if (device.type == DeviceType.CUDA)
                cuda.synchronize(device);
            stages.Add(new StageTime(stage, sw.Elapsed.TotalSeconds, 0));
            return result;
        }

        Time(
            "zero_grad",
            () =>
            {
                optimizer.zero_grad();
                return 0;
            }
        );
        var (list, resized) = Time("preprocess (normalise, resize, pad)", () => model.Preprocess(images, targets));
        Tensor[] features,
            forRpn,
            forHeads;
        Modeling.Rpn.RpnOutput rpn;
        RoiHeadsOutput heads;
        using (model.PrecisionScope(precision)) // the forward stages, as a training step runs them
        {
            features = Time("forward: backbone + FPN", () => model.Features(list.Tensors));
            forRpn = features.Select(f => f.detach().requires_grad_(true)).ToArray();
            forHeads = features.Select(f => f.detach().requires_grad_(true)).ToArray();
            rpn = Time(
                "forward: RPN (head, proposals, matching, losses)",
                () => model.ProposeRegions(list, forRpn, resized)
            );
            heads = Time(
                "forward: RoI heads (sampling, RoIAlign, box + mask heads, losses)",
                () => model.DetectInRois(list, forHeads, rpn.Proposals, resized)
            );
        }
        Time(
            "backward: RoI heads",
            () =>
            {
                model.Backward(Sum(heads.Losses.Values));
                return 0;
            }
        );
        Time(
            "backward: RPN",
            () =>
            {
                model.Backward(Sum(rpn.Losses.Values));
                return 0;
            }
        );
        Time(
            "backward: backbone + FPN",
            () =>
            {
                var grads = features
                    .Select(
                        (f, i) =>
                            (forRpn[i].grad, forHeads[i].grad) switch
                            {
                                (null, null) => zeros_like(f),
                                (Tensor a, null) => a,
                                (null, Tensor b) => b,
                                (Tensor a, Tensor b) => a + b,
                            }
                    )
                    .ToArray();
                model.Backward(features, grads);
                return 0;
            }
        );
        Time(
            "optimizer step",
            () =>
            {
                optimizer.step();
                return 0;
            }
        );
        return stages;
    }

    static Tensor Sum(IEnumerable<Tensor> losses) => losses.Aggregate((a, b) => a + b);
}
