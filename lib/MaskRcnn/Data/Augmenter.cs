using TorchSharp;
using static TorchSharp.torch;

namespace MaskRcnn.Data;

/// <summary>
/// Training augmentation applied consistently to the image, its masks and (recomputed from the masks) its
/// boxes: horizontal flip, scale jitter, brightness/contrast and multiplicative speckle noise. No vertical
/// flips or rotations: depth runs down an ultrasound image, and shadowing/enhancement run along it.
/// Deterministic for a given seed.
/// </summary>
public sealed record Augmenter(
    double FlipProbability = 0.5,
    double MinScale = 0.85,
    double MaxScale = 1.15,
    double Brightness = 0.08,
    double MinContrast = 0.8,
    double MaxContrast = 1.2,
    double SpeckleSigma = 0.08
)
{
    public static Augmenter None { get; } = new(0, 1, 1, 0, 1, 1, 0);

    public Sample Apply(Sample s, int seed)
    {
        var rng = new Random(seed);
        using var scope = NewDisposeScope();
        var image = s.Image;
        var masks = s.Masks;
        if (rng.NextDouble() < FlipProbability)
        {
            image = image.flip(2);
            masks = masks.flip(2);
        }
        double scale = MinScale + rng.NextDouble() * (MaxScale - MinScale);
        if (Math.Abs(scale - 1) > 1e-6)
        {
            long h = Math.Max(8, (long)Math.Round(image.shape[1] * scale)),
                w = Math.Max(8, (long)Math.Round(image.shape[2] * scale));
            image = nn.functional.interpolate(
                image.unsqueeze(0),
                size: [h, w],
                mode: InterpolationMode.Bilinear,
                align_corners: false
            )[0];
            masks =
                masks.shape[0] == 0
                    ? zeros(new long[] { 0, h, w }, dtype: ScalarType.Byte)
                    : nn
                        .functional.interpolate(
                            masks.unsqueeze(1).to(float32),
                            size: [h, w],
                            mode: InterpolationMode.Nearest
                        )
                        .select(1, 0)
                        .to(ScalarType.Byte);
        }
        double contrast = MinContrast + rng.NextDouble() * (MaxContrast - MinContrast);
        double brightness = (rng.NextDouble() * 2 - 1) * Brightness;
        image = (image - 0.5f) * (float)contrast + 0.5f + (float)brightness;
        if (SpeckleSigma > 0)
        {
            var g = new Generator((ulong)rng.NextInt64());
            image = image * (1 + (float)SpeckleSigma * randn(image.shape, generator: g));
        }
        image = image.clamp(0, 1);

        // Instances that vanished (e.g. scaled below one pixel) are dropped with their labels.
        var keep = masks.shape[0] == 0 ? arange(0, dtype: int64) : nonzero(masks.flatten(1).any(1)).view(-1);
        masks = masks.index_select(0, keep);
        var labels = s.Labels.index_select(0, keep);
        var boxes = Dataset.MasksToBoxes(masks);
        return new Sample(
            image.contiguous().MoveToOuterDisposeScope(),
            boxes.MoveToOuterDisposeScope(),
            labels.MoveToOuterDisposeScope(),
            masks.contiguous().MoveToOuterDisposeScope(),
            s.Source
        );
    }
}
