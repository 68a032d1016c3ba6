using System.Diagnostics;
using MaskRcnn.Modeling;
using MaskRcnn.Modeling.Ops;
using TorchSharp;
using static TorchSharp.torch;

namespace MaskRcnn.Teaching;

/// <summary>
/// The R-CNN family, runnable on one image with one trained Mask R-CNN, for teaching: each generation is rebuilt from
/// this model's trained layers, so that the generations differ in their pipeline only.
/// <list type="bullet">
/// <item>R-CNN (2014): selective search; each region cropped, warped and sent through the CNN on its own.</item>
/// <item>Fast R-CNN (2015): the same proposals; one CNN pass per image, each region max-pooled from the shared
/// features (RoIPool, a one-level SPPnet pyramid).</item>
/// <item>Faster R-CNN (2015): the proposals of the Region Proposal Network instead of selective search.</item>
/// <item>Mask R-CNN (2017): RoIAlign instead of RoIPool, and the mask head: the whole model.</item>
/// </list>
/// Fast and Faster R-CNN pool each region from the pyramid level its size maps to (FPN's rule of 2017), because this
/// model's heads learnt pyramid features; pooling from one level (stride 16, as the 2015 papers did) is the
/// one-level <see cref="Pipeline"/> that <see cref="PyramidStep"/> compares with it. Every run is timed by component
/// (<see cref="ComponentSeconds"/>), so that what each step removed shows.
/// </summary>
public static partial class RcnnFamily
{
    /// <summary>The generations, in the order of the history.</summary>
    public enum Generation
    {
        Rcnn,
        FastRcnn,
        FasterRcnn,
        MaskRcnn,
    }

    /// <summary>A display name with the paper's year.</summary>
    public static string Name(Generation g) =>
        g switch
        {
            Generation.Rcnn => "R-CNN (2014)",
            Generation.FastRcnn => "Fast R-CNN (2015)",
            Generation.FasterRcnn => "Faster R-CNN (2015)",
            _ => "Mask R-CNN (2017)",
        };

    /// <summary>A generation's pipeline as run here: its name, what changed from the one before, and (Fast and Faster
    /// R-CNN) whether it pools from one level instead of the pyramid.</summary>
    public sealed record Pipeline(Generation Generation, string Name, string Change, bool OneLevel = false);

    /// <summary>R-CNN → Fast → Faster → Mask R-CNN.</summary>
    public static IReadOnlyList<Pipeline> History =>
        [
            new(Generation.Rcnn, Name(Generation.Rcnn), "selective search; one CNN pass per warped region"),
            new(Generation.FastRcnn, Name(Generation.FastRcnn), "one CNN pass per image; regions RoIPooled from it"),
            new(Generation.FasterRcnn, Name(Generation.FasterRcnn), "proposals from the RPN, not selective search"),
            new(Generation.MaskRcnn, Name(Generation.MaskRcnn), "RoIAlign instead of RoIPool; a mask head"),
        ];

    /// <summary>FPN's step: Faster R-CNN pooling every region from one level (stride 16), then from the pyramid level
    /// of its size.</summary>
    public static IReadOnlyList<Pipeline> PyramidStep =>
        [
            new(Generation.FasterRcnn, "Faster R-CNN, one level (stride 16)", "every region from P4", OneLevel: true),
            new(Generation.FasterRcnn, "Faster R-CNN + FPN", "each region from the level of its size"),
        ];

    /// <summary>Whether a generation takes its regions from selective search.</summary>
    public static bool UsesSelectiveSearch(Generation g) => g is Generation.Rcnn or Generation.FastRcnn;

    /// <summary>The feature level a one-level pipeline pools from: P4, stride 16 (index 2 of P2 … P5), as the 2015
    /// papers' conv5 / C4 features.</summary>
    public const int SingleLevel = 2;

    /// <summary>
    /// Where one image's time went, in seconds: proposals (selective search, or the RPN), warping (R-CNN's crops),
    /// backbone (ResNet + FPN: once per image, or once per region for R-CNN), region heads (pooling + the box head's
    /// layers, for every region), mask head (pooling + the mask head, for every detection), other (normalising and
    /// resizing the image, decoding boxes, non-maximum suppression, pasting masks).
    /// </summary>
    public sealed record ComponentSeconds(
        double Proposals,
        double Warping,
        double Backbone,
        double RegionHeads,
        double MaskHead,
        double Other
    )
    {
        public double Total => Proposals + Warping + Backbone + RegionHeads + MaskHead + Other;

        public static ComponentSeconds Zero => new(0, 0, 0, 0, 0, 0);

        public ComponentSeconds Plus(ComponentSeconds o) =>
            new(
                Proposals + o.Proposals,
                Warping + o.Warping,
                Backbone + o.Backbone,
                RegionHeads + o.RegionHeads,
                MaskHead + o.MaskHead,
                Other + o.Other
            );

        public ComponentSeconds Times(double f) =>
            new(Proposals * f, Warping * f, Backbone * f, RegionHeads * f, MaskHead * f, Other * f);

        /// <summary>(name, seconds) of every component, in the order of the pipeline.</summary>
        public IReadOnlyList<(string Name, double Seconds)> Parts =>
            [
                ("proposals", Proposals),
                ("warping", Warping),
                ("backbone", Backbone),
                ("region heads", RegionHeads),
                ("mask head", MaskHead),
                ("other", Other),
            ];
    }

    /// <summary>One generation's detections on one image (original pixels; masks only for Mask R-CNN), where its time
    /// went, and how many regions its heads classified.</summary>
    public sealed record GenerationRun(
        Generation Generation,
        Detections Detections,
        ComponentSeconds Seconds,
        int Regions
    )
    {
        /// <summary>One line: the generation, its regions, its time and where the time went.</summary>
        public string Summary()
        {
            var parts = Seconds.Parts.Where(p => p.Seconds > 0).Select(p => $"{p.Name} {p.Seconds:F3}");
            return $"{Name(Generation)}: {Regions} regions, {Detections.Count} detections, {Seconds.Total:F3} s "
                + $"({string.Join(", ", parts)})";
        }
    }

    /// <summary>A stopwatch read in laps: each call to <see cref="Lap"/> returns the seconds since the last.</summary>
    sealed class Laps
    {
        readonly Stopwatch _watch = Stopwatch.StartNew();
        double _last;

        public double Lap()
        {
            double now = _watch.Elapsed.TotalSeconds,
                lap = now - _last;
            _last = now;
            return lap;
        }
    }

    /// <summary>
    /// Selective search's proposals for one image, at most <paramref name="max"/> (its best ranked), and the time
    /// it took: the regions R-CNN and Fast R-CNN classify.
    /// </summary>
    public static SelectiveSearch.Result ClassicalProposals(Tensor image, int max = 300)
    {
        if (!_classicalWarm)
        {
            using var scope = NewDisposeScope();
            // Warm-up on a corner: the first call's compilation would count in the first image's time.
            SelectiveSearch.Run(image.dim() == 3 ? image[.., ..32, ..32] : image[..32, ..32]);
            _classicalWarm = true;
        }
        return SelectiveSearch.Run(image, max: max);
    }

    static bool _classicalWarm;

    /// <summary>The pipelines already run once in this process (model, generation, one level).</summary>
    static readonly HashSet<(MaskRCNN, Generation, bool)> Warm = [];

    /// <summary>
    /// Detects on one image the way <paramref name="generation"/> did, with this model's trained layers, timed by
    /// component. R-CNN and Fast R-CNN take <paramref name="classical"/> as their regions (selective search is run,
    /// and timed, when it is null; its time is what it took). R-CNN warps each region to <paramref name="warp"/> px
    /// (a multiple of 32, as every input of the backbone must be; 64 px keeps a typical lesion near the scale at which
    /// this model's heads learnt it) and sends the regions through the backbone in batches of
    /// <paramref name="batch"/> (one CNN pass per region all the same). Fast and Faster R-CNN pool from the pyramid,
    /// or from one level (stride 16) with <paramref name="oneLevel"/>. The first call for a pipeline in a process
    /// runs it once untimed first (warm-up). The pipeline then runs <paramref name="timings"/> times and the run of
    /// median total time is returned: one pass of a fraction of a second varies by tens of percent on a laptop, more
    /// than the steps between some generations (the detections are the same every time).
    /// </summary>
    public static GenerationRun Detect(
        MaskRCNN model,
        Tensor image,
        Generation generation,
        SelectiveSearch.Result? classical = null,
        bool oneLevel = false,
        int warp = 64,
        int batch = 32,
        int timings = 3
    )
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(timings, 1);
        using var gcPause = Runtime.GcPause.Enter();
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        bool wasTraining = model.training;
        model.eval();
        try
        {
            if (UsesSelectiveSearch(generation))
                classical ??= ClassicalProposals(image);
            GenerationRun Run(SelectiveSearch.Result? regions) =>
                generation switch
                {
                    Generation.Rcnn => DetectWarped(model, image, regions!, warp, batch),
                    Generation.MaskRcnn => DetectWithMasks(model, image),
                    _ => DetectPooled(model, image, generation, regions, oneLevel),
                };
            // The first run of a pipeline pays one-time costs (compilation, the kernels' first allocations): run it
            // once untimed, R-CNN on one batch of regions only.
            if (Warm.Add((model, generation, oneLevel)))
                Run(
                    classical is null
                        ? null
                        : classical with
                        {
                            Boxes = classical.Boxes[..Math.Min(batch, (int)classical.Boxes.shape[0])],
                        }
                );
            var runs = Enumerable.Range(0, timings).Select(_ => Run(classical)).ToList();
            var median = runs.OrderBy(r => r.Seconds.Total).ElementAt(timings / 2);
            median.Detections.MoveToOuterDisposeScope();
            return median;
        }
        finally
        {
            if (wasTraining)
                model.train();
        }
    }

    /// <summary>The RPN's proposals for one image, best first, in the image's own pixels.</summary>
    public static Tensor RpnProposals(MaskRCNN model, Tensor image)
    {
        using var gcPause = Runtime.GcPause.Enter();
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var (list, _) = model.Preprocess([image]);
        var proposals = model.ProposeRegions(list, model.Features(list.Tensors)).Proposals[0];
        return BoxOps
            .ResizeBoxes(proposals, list.ImageSizes[0], (image.shape[^2], image.shape[^1]))
            .MoveToOuterDisposeScope();
    }
}
