using MaskRcnn.Modeling.Ops;
using MaskRcnn.Modeling.RoiHeads;
using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace MaskRcnn.Modeling.Transform;

/// <summary>A padded batch and the size of each image inside it.</summary>
/// <param name="Tensors">[N, 3, H, W], H and W multiples of size_divisible</param>
/// <param name="ImageSizes">per image (h, w) after resizing, before padding</param>
public sealed record ImageList(Tensor Tensors, IReadOnlyList<(long H, long W)> ImageSizes);

/// <summary>
/// The input half of torchvision's GeneralizedRCNNTransform: normalise with ImageNet mean/std, resize so the short
/// side is min_size unless the long side would exceed max_size (scale = min(min_size / short, max_size / long),
/// computed in float32 as torchvision does), and pad the batch to a multiple of 32 at the bottom/right. Its output
/// half, detections mapped back to the original image (torchvision's transform.postprocess), is the model's last stage,
/// <see cref="MaskRCNN.Postprocess"/>.
/// </summary>
public sealed class GeneralizedRCNNTransform(
    int[] minSize,
    int maxSize,
    double[] imageMean,
    double[] imageStd,
    int sizeDivisible = 32
)
{
    public int[] MinSize { get; } = minSize;
    public int MaxSize { get; } = maxSize;
    public double[] ImageMean { get; } = imageMean;
    public double[] ImageStd { get; } = imageStd;
    public int SizeDivisible { get; } = sizeDivisible;

    /// <summary>(x − mean) / std per channel; image [3, H, W] float in [0, 1].</summary>
    public Tensor Normalize(Tensor image)
    {
        if (!image.is_floating_point())
            throw new ArgumentException($"images must be float tensors in [0, 1], got {image.dtype}");
        using var scope = NewDisposeScope();
        var mean = tensor(ImageMean, dtype: image.dtype, device: image.device).view(-1, 1, 1);
        var std = tensor(ImageStd, dtype: image.dtype, device: image.device).view(-1, 1, 1);
        return ((image - mean) / std).MoveToOuterDisposeScope();
    }

    /// <summary>The (h, w) an image of size (h, w) is resized to for a given short-side target.</summary>
    public (long H, long W) ResizedSize(long h, long w, int? targetMinSize = null)
    {
        float minSide = Math.Min(h, w),
            maxSide = Math.Max(h, w);
        float selfMin = targetMinSize ?? MinSize[^1];
        // torchvision: torch.min(self_min_size / min_size, self_max_size / max_size) on float32 tensors, where
        // python_scalar / tensor is evaluated as tensor.reciprocal() * scalar.
        float scale = Math.Min((1f / minSide) * selfMin, (1f / maxSide) * (float)MaxSize);
        // interpolate(scale_factor=scale.item(), recompute_scale_factor=True): floor(size * scale) in double.
        return ((long)Math.Floor(h * (double)scale), (long)Math.Floor(w * (double)scale));
    }

    /// <summary>
    /// Why an image of <paramref name="h"/> × <paramref name="w"/> cannot be resized for the model, or null: a side
    /// that would come out under 1 px (a 100000×1 strip scaled to 1333×0), for any of the short-side targets
    /// training picks from. libtorch's error for it would name neither the image nor the sizes.
    /// </summary>
    public string? SizeProblem(long h, long w, bool training = false)
    {
        if (h < 1 || w < 1)
            return $"a {w}×{h} image has no pixels";
        foreach (int size in training ? MinSize : [MinSize[^1]])
        {
            var (nh, nw) = ResizedSize(h, w, size);
            if (nh < 1 || nw < 1)
                return TooThin(h, w, nh, nw, size);
        }
        return null;
    }

    string TooThin(long h, long w, long nh, long nw, int size) =>
        $"{w}×{h} would be resized to {nw}×{nh} px (min_size {size}, max_size {MaxSize}): too thin for the model";

    /// <summary>Resizes one image (and its training target: boxes scaled, masks nearest-neighbour).</summary>
    public (Tensor Image, TargetTensors? Target) Resize(Tensor image, TargetTensors? target, bool training)
    {
        using var scope = NewDisposeScope();
        long h = image.shape[^2],
            w = image.shape[^1];
        int size = training ? MinSize[(int)(rand(1).item<float>() * MinSize.Length) % MinSize.Length] : MinSize[^1];
        var (nh, nw) = ResizedSize(h, w, size);
        if (nh < 1 || nw < 1)
            throw new MaskRcnnException(TooThin(h, w, nh, nw, size));
        var resized = functional.interpolate(
            image.unsqueeze(0),
            size: [nh, nw],
            mode: InterpolationMode.Bilinear,
            align_corners: false
        )[0];
        TargetTensors? t = null;
        if (target is not null)
        {
            var boxes = BoxOps.ResizeBoxes(target.Boxes, (h, w), (nh, nw));
            var masks =
                target.Masks.numel() == 0
                    ? zeros(new long[] { 0, nh, nw }, dtype: ScalarType.Byte, device: image.device)
                    : functional
                        .interpolate(
                            target.Masks.unsqueeze(1).to(float32),
                            size: [nh, nw],
                            mode: InterpolationMode.Nearest
                        )
                        .select(1, 0)
                        .to(ScalarType.Byte);
            t = new TargetTensors(boxes.MoveToOuterDisposeScope(), target.Labels, masks.MoveToOuterDisposeScope());
        }
        return (resized.MoveToOuterDisposeScope(), t);
    }

    /// <summary>Pads images to a common size, a multiple of size_divisible, zeros at the bottom/right.</summary>
    public Tensor BatchImages(IReadOnlyList<Tensor> images)
    {
        long c = images.Max(i => i.shape[0]);
        long h = (long)Math.Ceiling(images.Max(i => i.shape[1]) / (double)SizeDivisible) * SizeDivisible;
        long w = (long)Math.Ceiling(images.Max(i => i.shape[2]) / (double)SizeDivisible) * SizeDivisible;
        var batch = images[0].new_zeros(images.Count, c, h, w);
        using var noGrad = no_grad();
        for (int i = 0; i < images.Count; i++)
            batch[i, ..(int)images[i].shape[0], ..(int)images[i].shape[1], ..(int)images[i].shape[2]].copy_(images[i]);
        return batch;
    }

    /// <summary>Normalise, resize and batch; targets are resized with their images.</summary>
    public (ImageList Images, IReadOnlyList<TargetTensors>? Targets) Forward(
        IReadOnlyList<Tensor> images,
        IReadOnlyList<TargetTensors>? targets = null,
        bool training = false
    )
    {
        using var scope = NewDisposeScope();
        var resized = new List<Tensor>();
        var newTargets = targets is null ? null : new List<TargetTensors>();
        for (int i = 0; i < images.Count; i++)
        {
            if (images[i].dim() != 3)
                throw new ArgumentException(
                    $"images must be [C, H, W] tensors, got shape [{string.Join(", ", images[i].shape)}]"
                );
            var (img, t) = Resize(Normalize(images[i]), targets?[i], training);
            resized.Add(img);
            if (t is not null)
                newTargets!.Add(t);
        }
        var sizes = resized.Select(r => (r.shape[1], r.shape[2])).ToArray();
        var batch = BatchImages(resized).MoveToOuterDisposeScope();
        var outTargets = newTargets
            ?.Select(t => new TargetTensors(
                t.Boxes.MoveToOuterDisposeScope(),
                t.Labels,
                t.Masks.MoveToOuterDisposeScope()
            ))
            .ToArray();
        return (new ImageList(batch, sizes), outTargets);
    }
}
