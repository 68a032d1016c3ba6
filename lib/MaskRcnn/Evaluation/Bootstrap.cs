namespace MaskRcnn.Evaluation;

/// <summary>A statistic and its bootstrap interval: [Low, High] holds it with the given confidence level.</summary>
public sealed record Interval(double Estimate, double Low, double High, double Level)
{
    /// <summary>Whether two intervals share a value (then the data do not rank the two estimates).</summary>
    public bool Overlaps(Interval other) => Low <= other.High && other.Low <= High;

    public override string ToString() => FormattableString.Invariant($"{Estimate:F3} [{Low:F3}, {High:F3}]");
}

/// <summary>
/// The percentile bootstrap (Efron & Tibshirani, An Introduction to the Bootstrap, 1993, ch. 13): the items (e.g.
/// test images) are drawn with replacement as many times as there are items, the statistic is computed on each
/// such resample, and the interval is given by the (1 − level)/2 and (1 + level)/2 quantiles of those values (linear
/// interpolation between order statistics, numpy's default). With several statistics on the same resamples
/// (<see cref="Together"/>), differences between them can be judged too: a difference whose interval holds 0 is not
/// shown by the data.
/// </summary>
public static class Bootstrap
{
    /// <summary>One statistic's interval; <paramref name="statistic"/> gets the item indices of a resample (repeats
    /// included).</summary>
    public static Interval Percentile(
        int count,
        Func<IReadOnlyList<int>, double> statistic,
        int resamples = 1000,
        double level = 0.95,
        int seed = 0
    ) => Together(count, [statistic], resamples, level, seed)[0];

    /// <summary>Several statistics on the same resamples: one interval each, in order.</summary>
    public static IReadOnlyList<Interval> Together(
        int count,
        IReadOnlyList<Func<IReadOnlyList<int>, double>> statistics,
        int resamples = 1000,
        double level = 0.95,
        int seed = 0
    )
    {
        if (count < 1)
            throw new ArgumentException("the bootstrap needs at least one item", nameof(count));
        if (resamples < 1 || level <= 0 || level >= 1)
            throw new ArgumentException($"resamples ≥ 1 and 0 < level < 1 (got {resamples}, {level})");
        var all = Enumerable.Range(0, count).ToArray();
        var values = statistics.Select(_ => new double[resamples]).ToArray();
        var random = new Random(seed);
        var sample = new int[count];
        for (int r = 0; r < resamples; r++)
        {
            for (int i = 0; i < count; i++)
                sample[i] = random.Next(count);
            for (int s = 0; s < statistics.Count; s++)
                values[s][r] = statistics[s](sample);
        }
        return statistics
            .Select(
                (statistic, s) =>
                {
                    var sorted = values[s].Where(double.IsFinite).Order().ToArray();
                    double estimate = statistic(all);
                    if (sorted.Length == 0)
                        return new Interval(estimate, double.NaN, double.NaN, level);
                    return new Interval(
                        estimate,
                        Quantile(sorted, (1 - level) / 2),
                        Quantile(sorted, (1 + level) / 2),
                        level
                    );
                }
            )
            .ToList();
    }

    /// <summary>The q-quantile of sorted values, interpolating linearly between order statistics.</summary>
    public static double Quantile(IReadOnlyList<double> sorted, double q)
    {
        double position = q * (sorted.Count - 1);
        int below = (int)Math.Floor(position);
        int above = Math.Min(below + 1, sorted.Count - 1);
        return sorted[below] + (position - below) * (sorted[above] - sorted[below]);
    }
}
