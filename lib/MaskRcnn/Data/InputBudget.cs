namespace MaskRcnn.Data;

/// <summary>
/// The budgets of annotations, whose cost would otherwise grow without bound with what a file says: a region beyond
/// them is left out and reported (or the image, for too many regions), never met as minutes of work or gigabytes of
/// memory in the middle of a step. File sizes have theirs in <see cref="IO.InputFile"/>, images in
/// <see cref="ImageIO.DefaultMaxPixels"/>.
/// </summary>
public static class InputBudget
{
    /// <summary>
    /// Regions per image (matterport's MAX_GT_INSTANCES): each is a full-size mask in every training step (1000 regions
    /// took 3.9 GB for one step).
    /// </summary>
    public const int MaxRegionsPerImage = 100;

    /// <summary>Vertices per polygon or polyline (a traced outline of a 4096-px lesion has a few thousand).</summary>
    public const int MaxVertices = 100_000;

    /// <summary>
    /// The largest coordinate, size or radius in pixels (images are at most 4096 px a side): beyond it a value is
    /// absurd (±1e308, a radius of 1e300) and the region is left out.
    /// </summary>
    public const double MaxCoordinate = 100_000;

    /// <summary>
    /// The work of rasterising one region, in point-in-edge tests (about 1 s): a polygon whose edges cross its rows
    /// this many times is refused (a million-point zigzag took 42 s on a 128-px image).
    /// </summary>
    public const long MaxRasterWork = 400_000_000;

    /// <summary>Why <paramref name="values"/> break the coordinate budget, or null.</summary>
    public static string? CoordinateProblem(string what, IEnumerable<double> values)
    {
        foreach (var v in values)
        {
            if (!double.IsFinite(v))
                return $"{what}: {v} is not a finite number";
            if (Math.Abs(v) > MaxCoordinate)
                return $"{what}: {v:G4} is beyond ±{MaxCoordinate:N0} px (the budget of a coordinate)";
        }
        return null;
    }

    /// <summary>Why a polygon of <paramref name="vertices"/> points breaks the vertex budget, or null.</summary>
    public static string? VertexProblem(string what, int vertices) =>
        vertices > MaxVertices ? $"{what} with {vertices:N0} points exceeds the budget of {MaxVertices:N0}" : null;

    /// <summary>The problem of an image with <paramref name="regions"/> regions, or null.</summary>
    public static string? RegionCountProblem(int regions) =>
        regions > MaxRegionsPerImage
            ? $"{regions:N0} regions exceed the budget of {MaxRegionsPerImage} per image; image skipped"
            : null;
}
