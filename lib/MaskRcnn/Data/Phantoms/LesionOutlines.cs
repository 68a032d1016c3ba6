namespace MaskRcnn.Data.Phantoms;

/// <summary>
/// The lesion outlines both phantom generators draw (<see cref="PhantomGenerator"/>, <see cref="BusiPhantomGenerator"/>):
/// an oval with gentle lobulation, the benign look, and an irregular outline of random harmonics, spiculated when asked,
/// the malignant look. Each generator passes its own style, since the easy set's and the BUSI-like set's ranges differ
/// (data/README.md). The random draws come in a fixed order, so a seed gives the same outline in every version.
/// </summary>
static class LesionOutlines
{
    /// <summary>How an oval looks.</summary>
    /// <param name="MaxTilt">the tilt is uniform in ±this (radians)</param>
    /// <param name="LobulatedShare">the share of ovals drawn with visible lobulation</param>
    /// <param name="Lobulated">the 3-lobe amplitude's range for those (a fraction of the radius)</param>
    /// <param name="MaxSmooth">the 3-lobe amplitude's upper bound for the others</param>
    public sealed record OvalStyle(
        double MaxTilt,
        double LobulatedShare,
        (double Min, double Max) Lobulated,
        double MaxSmooth
    );

    /// <summary>How an irregular outline looks.</summary>
    /// <param name="Harmonics">harmonics 2, 3, … of the radius, this many</param>
    /// <param name="Amplitude">harmonic k's amplitude is uniform in [0, Amplitude / k · 1.5)</param>
    /// <param name="Spikes">the number of spicules when spiculated: [Min, Max)</param>
    /// <param name="SpikeWidth">a spicule's half-width (radians)</param>
    /// <param name="SpikeHeight">a spicule's height (a fraction of the radius)</param>
    /// <param name="MinRadius">the radius never drops below this fraction</param>
    public sealed record IrregularStyle(
        int Harmonics,
        double Amplitude,
        (int Min, int Max) Spikes,
        (double Min, double Max) SpikeWidth,
        (double Min, double Max) SpikeHeight,
        double MinRadius
    );

    /// <summary>An oval with semi-axes <paramref name="rx"/>, <paramref name="ry"/> around (cx, cy), tilted and gently
    /// lobulated: 64 points.</summary>
    public static (double[] Xs, double[] Ys) Oval(
        SplitMix rng,
        double cx,
        double cy,
        double rx,
        double ry,
        OvalStyle style
    )
    {
        double tilt = rng.Uniform(-style.MaxTilt, style.MaxTilt);
        double lob =
            rng.NextDouble() < style.LobulatedShare
                ? rng.Uniform(style.Lobulated.Min, style.Lobulated.Max)
                : rng.Uniform(0.0, style.MaxSmooth);
        double p2 = rng.Uniform(0, 6.3),
            p3 = rng.Uniform(0, 6.3);
        const int points = 64;
        var xs = new double[points];
        var ys = new double[points];
        for (int i = 0; i < points; i++)
        {
            double t = 2 * Math.PI * i / points;
            double r = 1 + lob * Math.Sin(3 * t + p3) + 0.02 * Math.Sin(2 * t + p2);
            double u = rx * r * Math.Cos(t),
                v = ry * r * Math.Sin(t);
            xs[i] = cx + u * Math.Cos(tilt) - v * Math.Sin(tilt);
            ys[i] = cy + u * Math.Sin(tilt) + v * Math.Cos(tilt);
        }
        return (xs, ys);
    }

    /// <summary>
    /// An irregular (microlobulated, angular) outline with semi-axes <paramref name="rx"/>, <paramref name="ry"/>
    /// around (cx, cy): 160 points. <paramref name="spiculated"/> is asked after the harmonics are drawn (a random
    /// draw of the caller's happens at that point of the sequence).
    /// </summary>
    public static (double[] Xs, double[] Ys) Irregular(
        SplitMix rng,
        double cx,
        double cy,
        double rx,
        double ry,
        IrregularStyle style,
        Func<bool> spiculated
    )
    {
        var harmonics = Enumerable
            .Range(2, style.Harmonics)
            .Select(k => (K: k, A: rng.Uniform(0, style.Amplitude / k * 1.5), P: rng.Uniform(0, 6.3)))
            .ToArray();
        int spikes = spiculated() ? rng.Int(style.Spikes.Min, style.Spikes.Max) : 0;
        var spikeList = Enumerable
            .Range(0, spikes)
            .Select(_ =>
                (
                    Angle: rng.Uniform(0, 2 * Math.PI),
                    Width: rng.Uniform(style.SpikeWidth.Min, style.SpikeWidth.Max),
                    Height: rng.Uniform(style.SpikeHeight.Min, style.SpikeHeight.Max)
                )
            )
            .ToArray();
        const int points = 160;
        var xs = new double[points];
        var ys = new double[points];
        for (int i = 0; i < points; i++)
        {
            double t = 2 * Math.PI * i / points;
            double r = 1 + harmonics.Sum(h => h.A * Math.Sin(h.K * t + h.P));
            foreach (var s in spikeList)
            {
                double d = Math.Abs(Math.IEEERemainder(t - s.Angle, 2 * Math.PI));
                if (d < s.Width)
                    r += s.Height * (1 - d / s.Width);
            }
            r = Math.Max(style.MinRadius, r);
            xs[i] = cx + rx * r * Math.Cos(t);
            ys[i] = cy + ry * r * Math.Sin(t);
        }
        return (xs, ys);
    }
}
