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
/// FLOPs (<see cref="FlopCounter"/>): each forward stage gets the forward FLOPs of the layers it ran, and the matching
/// backward part the backward FLOPs those layers need — by the counter's rule, which depends on which parameters
/// train (set them before, e.g. with <c>LayerGroups.Apply</c>).
/// </summary>
public static class TrainingStepProfiler
{
    /// <summary>The peer's step: a TorchSharp optimizer's zero_grad and step around forward and backward.</summary>
    public static IReadOnlyList<StageTime> Profile(
        MaskRCNN model,
        IReadOnlyList<Tensor> images,
        IReadOnlyList<TargetTensors> targets,
        optim.Optimizer optimizer,
        ComputePrecision precision = ComputePrecision.Float32
    ) => Profile(model, images, targets, optimizer.zero_grad, () => optimizer.step(), precision);

    /// <summary>
    /// A step with any optimizer: <paramref name="zeroGrad"/> first, <paramref name="step"/> (for the trainer's: the
    /// gradient clipping and its SGD step) timed as the "optimizer step" phase.
    /// </summary>
    public static IReadOnlyList<StageTime> Profile(
        MaskRCNN model,
        IReadOnlyList<Tensor> images,
        IReadOnlyList<TargetTensors> targets,
        Action zeroGrad,
        Action step,
        ComputePrecision precision = ComputePrecision.Float32
    )
    {
        if (!model.training)
            throw new InvalidOperationException(
                "profiling a training step needs training mode: call model.train() first"
            );
        using var counter = FlopCounter.Attach(model);
        using var call = ModelCalls.Step();
        using var scope = NewDisposeScope();
        var stages = new List<StageTime>();
        var backwardFlops = new Dictionary<string, double>(); // by forward stage: what its backward part computes
        var device = model.Device;
        // A forward stage records its forward FLOPs and keeps its layers' backward FLOPs for the backward part
        // named in forwardOf; a backward part reads them.
        T Time<T>(string stage, Func<T> run, string? forwardOf = null)
        {
            double forward = counter.Forward,
                backward = counter.Backward;
            var sw = Stopwatch.StartNew();
            var result = run();
            if (device.type == DeviceType.CUDA)
                cuda.synchronize(device);
            double seconds = sw.Elapsed.TotalSeconds;
            if (forwardOf is not null)
                backwardFlops[forwardOf] = counter.Backward - backward;
            double flops = backwardFlops.TryGetValue(stage, out var b) ? b : counter.Forward - forward;
            stages.Add(new StageTime(stage, seconds, flops));
            return result;
        }

        Time(
            "zero_grad",
            () =>
            {
                zeroGrad();
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
            features = Time("forward: backbone + FPN", () => model.Features(list.Tensors), Backbone);
            // Each head gets the features as leaves that need a gradient exactly when the features do.
            forRpn = features.Select(f => f.detach().requires_grad_(f.requires_grad)).ToArray();
            forHeads = features.Select(f => f.detach().requires_grad_(f.requires_grad)).ToArray();
            rpn = Time(
                "forward: RPN (head, proposals, matching, losses)",
                () => model.ProposeRegions(list, forRpn, resized),
                Rpn
            );
            heads = Time(
                "forward: RoI heads (sampling, RoIAlign, box + mask heads, losses)",
                () => model.DetectInRois(list, forHeads, rpn.Proposals, resized),
                Heads
            );
        }
        Time(
            Heads,
            () =>
            {
                model.Backward(Sum(heads.Losses.Values));
                return 0;
            }
        );
        Time(
            Rpn,
            () =>
            {
                model.Backward(Sum(rpn.Losses.Values));
                return 0;
            }
        );
        Time(
            Backbone,
            () =>
            {
                if (!features.Any(f => f.requires_grad))
                    return 0; // nothing in the backbone or FPN trains
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
                step();
                return 0;
            }
        );
        return stages;
    }

    const string Backbone = "backward: backbone + FPN";
    const string Rpn = "backward: RPN";
    const string Heads = "backward: RoI heads";

    static Tensor Sum(IEnumerable<Tensor> losses) => losses.Aggregate((a, b) => a + b);
}
