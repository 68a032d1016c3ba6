using MaskRcnn.Modeling;
using SkiaSharp;
using TorchSharp;
using static TorchSharp.torch;

namespace MaskRcnn.Visualization;

/// <summary>The transform (resize and pad) and the second stage's sampling over many images.</summary>
public static partial class Visualize
{
    /// <summary>
    /// What the transform does to an image: the original (shrunk to fit the page if large), and the padded batch the
    /// backbone sees, enlarged twice, with the resized image outlined and the padding filled orange.
    /// </summary>
    public static Figure ResizeAndPad(MaskRCNN model, Tensor image)
    {
        using var scope = NewDisposeScope();
        var (list, _) = model.Preprocess([image]);
        var (h, w) = list.ImageSizes[0];
        var padded = list.Tensors[0];
        var c = model.Config;
        var std = tensor(c.ImageStd.Select(v => (float)v).ToArray()).view(3, 1, 1);
        var mean = tensor(c.ImageMean.Select(v => (float)v).ToArray()).view(3, 1, 1);
        var restored = (padded * std + mean).clamp(0, 1);
        long ph = padded.shape[1],
            pw = padded.shape[2];
        const int scale = 2;
        using var sketch = new Draw.Sketch(restored, scale);
        var orange = new SKColor(255, 140, 0, 200);
        if (pw > w)
            sketch.Fill([w, 0, pw, ph], orange);
        if (ph > h)
            sketch.Fill([0, h, w, ph], orange);
        sketch.Box(new float[] { 0, 0, w, h }, SKColors.Cyan, 1f, dashed: true);
        string batchCaption = $"batch {pw}×{ph}: resized {w}×{h} (cyan) + padding (orange), ×{scale}";
        var batch = sketch.ToFigure(batchCaption);
        int originalWidth = (int)image.shape[^1],
            originalHeight = (int)image.shape[^2];
        var original = Draw.Image(
            Fit(image, Draw.MaxWidth - batch.Width - 12),
            $"original {originalWidth}×{originalHeight}"
        );
        var caption =
            $"short side → {c.MinSize[0]} unless the long side would exceed {c.MaxSize}; then padded to a "
            + "multiple of 32 (w × h)";
        return Draw.Grid([original, batch], 2, caption);
    }

    /// <summary>The positive share of the RoIs sampled per image, with the sampler's cap marked (bins centred on 0,
    /// 0.05, …, so a share at the cap sits on its line).</summary>
    public static ChartHtml PositiveShares(double[] shares, double cap) =>
        Charts.Render(
            ChartSpec.Histogram(
                "Positive share of the sampled RoIs, per image",
                "positive RoIs / sampled RoIs",
                "images",
                new ChartSeries("images", X: shares)
            ) with
            {
                XMarks = [new ChartMark(cap, $"cap {cap}")],
                Bins = new HistogramBins(-0.025, Math.Max(0.525, cap + 0.075), 0.05),
            }
        );
}
