using System.Diagnostics;
using MaskRcnn.Modeling;
using MaskRcnn.Modeling.Ops;
using TorchSharp;
using static TorchSharp.torch;

namespace MaskRcnn.Teaching;

/// <summary>
/// The R-CNN family, runnable on one image, for teaching: how each generation gets regions and features.
/// <list type="bullet">
/// <item>R-CNN (2014): a classical proposal method, then one CNN pass per warped region.</item>
/// <item>Fast R-CNN (2015): one CNN pass over the image, regions pooled from the shared features (RoIPool).</item>
/// <item>Faster R-CNN (2016): the proposals come from a Region Proposal Network on the same features.</item>
/// <item>Mask R-CNN (2017): RoIAlign instead of RoIPool, plus a mask head.</item>
/// </list>
/// </summary>
public static class RcnnFamily
{
    /// <summary>
    /// Classical, learning-free region proposals for ultrasound (a stand-in for selective search): dark blobs
    /// found by thresholding a smoothed image at several levels, as connected components' bounding boxes.
    /// </summary>
    /// <param name="image">[3, H, W] or [H, W] in [0, 1]</param>
    /// <returns>[N, 4] boxes, at most <paramref name="max"/>, larger first</returns>
    public static Tensor ClassicalProposals(Tensor image, int max = 200, int minArea = 30)
    {
        using var scope = NewDisposeScope();
        var gray = (image.dim() == 3 ? image.mean([0]) : image).detach().cpu().to(float32);
        var smooth = nn.functional.avg_pool2d(gray.unsqueeze(0).unsqueeze(0), 9, 1, 4)[0, 0];
        int h = (int)gray.shape[0], w = (int)gray.shape[1];
        var boxes = new List<(float X1, float Y1, float X2, float Y2, int Area)>();
        var sortedValues = smooth.flatten().sort().Values;
        foreach (var q in new[] { 0.08, 0.15, 0.25, 0.35 })
        {
            float level = sortedValues[(long)(q * (sortedValues.shape[0] - 1))].item<float>();
            var mask = smooth.lt(level).to(ScalarType.Byte).contiguous().data<byte>().ToArray();
            var (labels, sizes) = Data.Contours.Components(mask, w, h);
            for (int id = 1; id <= sizes.Count; id++)
            {
                if (sizes[id - 1] < minArea) continue;
                int x1 = w, y1 = h, x2 = 0, y2 = 0;
                for (int p = 0; p < labels.Length; p++)
                {
                    if (labels[p] != id) continue;
                    int r = p / w, c = p % w;
                    x1 = Math.Min(x1, c); x2 = Math.Max(x2, c + 1); y1 = Math.Min(y1, r); y2 = Math.Max(y2, r + 1);
                }
                if ((x2 - x1) * (y2 - y1) < w * h / 2) boxes.Add((x1, y1, x2, y2, sizes[id - 1]));
            }
        }
        var chosen = boxes.OrderByDescending(b => b.Area).Take(max).ToList();
        if (chosen.Count == 0) return zeros(0, 4).MoveToOuterDisposeScope();
        return tensor(chosen.SelectMany(b => new[] { b.X1, b.Y1, b.X2, b.Y2 }).ToArray()).view(-1, 4).MoveToOuterDisposeScope();
    }

    /// <summary>Timings and outputs of one generation on one image.</summary>
    public sealed record StageResult(string Method, int Regions, double Seconds, string HowFeaturesAreComputed, Tensor Boxes);

    /// <summary>R-CNN: one backbone pass per region (warped to <paramref name="warp"/> px).</summary>
    public static StageResult Rcnn(MaskRCNN model, Tensor image, Tensor proposals, int warp = 112)
    {
        using var gcPause = GcPause();
        using var noGrad = no_grad();
        var sw = Stopwatch.StartNew();
        var boxes = proposals.ToFloatArray();
        int n = boxes.Length / 4;
        var normalized = model.Transform.Normalize(image);
        for (int i = 0; i < n; i++)
        {
            using var scope = NewDisposeScope();
            int x1 = (int)boxes[i * 4], y1 = (int)boxes[i * 4 + 1], x2 = Math.Max(x1 + 1, (int)boxes[i * 4 + 2]), y2 = Math.Max(y1 + 1, (int)boxes[i * 4 + 3]);
            var crop = normalized[.., y1..y2, x1..x2].unsqueeze(0);
            var warped = nn.functional.interpolate(crop, size: [warp, warp], mode: InterpolationMode.Bilinear, align_corners: false);
            model.Backbone.Body.call(warped);                     // one CNN per region: the cost R-CNN paid
        }
        return new StageResult("R-CNN", n, sw.Elapsed.TotalSeconds, $"{n} backbone passes, one per warped region", proposals);
    }

    /// <summary>Fast R-CNN: one backbone pass, proposals pooled from the shared stride-16 features with RoIPool.</summary>
    public static StageResult FastRcnn(MaskRCNN model, Tensor image, Tensor proposals)
    {
        using var gcPause = GcPause();
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var sw = Stopwatch.StartNew();
        var (list, _) = model.Preprocess([image]);
        var features = model.Features(list.Tensors);
        double scale = (double)list.ImageSizes[0].H / image.shape[^2];
        var rois = cat([zeros(proposals.shape[0], 1), proposals * (float)scale], 1);
        RoIPool.Apply(features[2], rois, (7, 7), 1.0 / 16);
        return new StageResult("Fast R-CNN", (int)proposals.shape[0], sw.Elapsed.TotalSeconds, "1 backbone pass; RoIPool on shared features", proposals);
    }

    /// <summary>Faster R-CNN and Mask R-CNN: the whole model (RPN proposals, RoIAlign, box and mask heads).</summary>
    public static (StageResult Faster, StageResult Mask, Detections Result) FasterAndMask(MaskRCNN model, Tensor image)
    {
        using var gcPause = GcPause();
        using var noGrad = no_grad();
        Tensor proposals;
        var sw = Stopwatch.StartNew();
        using (var scope = NewDisposeScope())
        {
            var (list, _) = model.Preprocess([image]);
            var features = model.Features(list.Tensors);
            var rpn = model.ProposeRegions(list, features);
            double scale = image.shape[^2] / (double)list.ImageSizes[0].H;
            proposals = (rpn.Proposals[0] * (float)scale).MoveToOuterDisposeScope();
        }
        double faster = sw.Elapsed.TotalSeconds;
        sw.Restart();
        var result = model.Predict(image);
        return (new StageResult("Faster R-CNN (RPN proposals)", (int)proposals.shape[0], faster, "1 backbone pass; the RPN proposes regions on the same features", proposals),
                new StageResult("Mask R-CNN (full model)", result.Count, sw.Elapsed.TotalSeconds, "RPN + RoIAlign + box and mask heads", result.Boxes), result);
    }

    static Runtime.GcPause.Scope GcPause() => Runtime.GcPause.Enter();

    /// <summary>
    /// How far RoIPool's rounding moves each box: its corners snapped to the feature grid (stride in pixels), and
    /// the largest bin-edge displacement among the output bins, in image pixels. RoIAlign moves nothing.
    /// </summary>
    public static (double[] CornerError, double[] WorstBinError) RoiPoolMisalignment(Tensor boxes, int stride, int bins = 7)
    {
        var b = boxes.ToFloatArray();
        int n = b.Length / 4;
        var corner = new double[n];
        var worst = new double[n];
        for (int i = 0; i < n; i++)
        {
            double s = 1.0 / stride;
            double[] exact = [b[i * 4] * s, b[i * 4 + 1] * s, b[i * 4 + 2] * s, b[i * 4 + 3] * s];
            double[] rounded = exact.Select(v => Math.Round(v, MidpointRounding.AwayFromZero)).ToArray();
            corner[i] = exact.Zip(rounded, (e, r) => Math.Abs(e - r)).Max() * stride;
            double binExact = (exact[2] - exact[0]) / bins;
            double roiW = Math.Max(rounded[2] - rounded[0] + 1, 1), binRounded = roiW / bins;
            double err = 0;
            for (int k = 0; k <= bins; k++)
            {
                double e = exact[0] + k * binExact;
                double r = rounded[0] + (k == 0 ? 0 : Math.Ceiling(k * binRounded));
                err = Math.Max(err, Math.Abs(e - r));
            }
            worst[i] = err * stride;
        }
        return (corner, worst);
    }
}
