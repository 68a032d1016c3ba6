namespace MaskRcnn.Data.Phantoms;

/// <summary>
/// A tiny deterministic random generator (SplitMix64) so phantoms are byte-identical for a seed on every
/// .NET version and platform (System.Random's algorithm is an implementation detail).
/// </summary>
public sealed class SplitMix(ulong seed)
{
    ulong _state = seed;
    double? _spare;

    public ulong NextUInt64()
    {
        ulong z = _state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>Uniform in [0, 1).</summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    /// <summary>Uniform in [lo, hi).</summary>
    public double Uniform(double lo, double hi) => lo + (hi - lo) * NextDouble();

    /// <summary>Integer in [lo, hi).</summary>
    public int Int(int lo, int hi) => lo + (int)(NextDouble() * (hi - lo));

    /// <summary>Shuffles <paramref name="items"/> in place (Fisher–Yates): the same order for a seed
    /// everywhere.</summary>
    public void Shuffle<T>(T[] items)
    {
        for (int i = items.Length - 1; i > 0; i--)
        {
            int j = Int(0, i + 1);
            (items[i], items[j]) = (items[j], items[i]);
        }
    }

    /// <summary>Standard normal (Box–Muller).</summary>
    public double Gaussian()
    {
        if (_spare is double s)
        {
            _spare = null;
            return s;
        }
        double u1 = 1.0 - NextDouble(),
            u2 = NextDouble();
        double r = Math.Sqrt(-2.0 * Math.Log(u1)),
            t = 2 * Math.PI * u2;
        _spare = r * Math.Sin(t);
        return r * Math.Cos(t);
    }

    /// <summary>A seed derived from a parent seed and labels (for per-split, per-image streams).</summary>
    public static ulong Derive(ulong seed, params ulong[] parts)
    {
        var g = new SplitMix(seed);
        ulong h = g.NextUInt64();
        foreach (var p in parts)
            h = new SplitMix(h ^ (p * 0xD1B54A32D192ED03UL)).NextUInt64();
        return h;
    }
}
