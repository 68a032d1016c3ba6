using TorchSharp;
using static TorchSharp.torch;

namespace MaskRcnn.Modeling.Rpn;

/// <summary>
/// Anchors for every feature level (torchvision's AnchorGenerator). Level i has |sizes[i]| × |ratios[i]|
/// "cell anchors" centred on (0, 0) — aspect ratio = height / width, area = size², corners rounded half to
/// even — shifted to every feature cell at the level's stride. Order: level, then row, column, then
/// (ratio, size) with ratio varying slowest — which is how the RPN head's channels are laid out.
/// </summary>
public sealed class AnchorGenerator
{
    public IReadOnlyList<double[]> Sizes { get; }
    public IReadOnlyList<double[]> AspectRatios { get; }

    /// <summary>Per level [A, 4] float32 cell anchors.</summary>
    public IReadOnlyList<Tensor> CellAnchors { get; }

    public AnchorGenerator(IReadOnlyList<double[]> sizes, IReadOnlyList<double[]> aspectRatios)
    {
        if (sizes.Count != aspectRatios.Count)
            throw new ArgumentException(
                $"anchor sizes ({sizes.Count} levels) and aspect ratios ({aspectRatios.Count} levels) must have one "
                    + "entry per feature level"
            );
        Sizes = sizes;
        AspectRatios = aspectRatios;
        CellAnchors = sizes.Zip(aspectRatios, GenerateCellAnchors).ToArray();
    }

    /// <summary>Anchors per location at each level.</summary>
    public int[] NumAnchorsPerLocation => Sizes.Zip(AspectRatios, (s, a) => s.Length * a.Length).ToArray();

    public static Tensor GenerateCellAnchors(double[] scales, double[] aspectRatios)
    {
        using var scope = NewDisposeScope();
        var s = tensor(scales.Select(v => (float)v).ToArray());
        var r = tensor(aspectRatios.Select(v => (float)v).ToArray());
        var hRatios = r.sqrt();
        var wRatios = 1 / hRatios;
        var ws = (wRatios.unsqueeze(1) * s.unsqueeze(0)).view(-1);
        var hs = (hRatios.unsqueeze(1) * s.unsqueeze(0)).view(-1);
        var baseAnchors = stack([-ws, -hs, ws, hs], 1) / 2;
        return baseAnchors.round().MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Anchors for feature maps of the given sizes over a padded batch of <paramref name="paddedSize"/>;
    /// strides are paddedSize / featureSize (integer division). Returns one [ΣHWA, 4] tensor (the same for
    /// every image of the batch) and the number of anchors per level.
    /// </summary>
    public (Tensor Anchors, long[] PerLevel) Forward(
        (long H, long W) paddedSize,
        IReadOnlyList<(long H, long W)> featureSizes,
        ScalarType dtype,
        Device device
    )
    {
        if (featureSizes.Count != CellAnchors.Count)
            throw new ArgumentException(
                $"{featureSizes.Count} feature maps but anchors are configured for {CellAnchors.Count} levels"
            );
        using var scope = NewDisposeScope();
        var levels = new List<Tensor>();
        for (int i = 0; i < featureSizes.Count; i++)
        {
            var (gh, gw) = featureSizes[i];
            long strideH = paddedSize.H / gh,
                strideW = paddedSize.W / gw;
            var shiftsX = arange(0, gw, dtype: int32, device: device) * strideW;
            var shiftsY = arange(0, gh, dtype: int32, device: device) * strideH;
            var grid = meshgrid([shiftsY, shiftsX], indexing: "ij");
            var sx = grid[1].reshape(-1);
            var sy = grid[0].reshape(-1);
            var shifts = stack([sx, sy, sx, sy], 1);
            var cell = CellAnchors[i].to(dtype, device);
            levels.Add((shifts.view(-1, 1, 4) + cell.view(1, -1, 4)).reshape(-1, 4));
        }
        var perLevel = levels.Select(l => l.shape[0]).ToArray();
        return (cat(levels, 0).MoveToOuterDisposeScope(), perLevel);
    }
}
