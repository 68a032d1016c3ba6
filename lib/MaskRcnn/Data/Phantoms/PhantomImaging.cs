namespace MaskRcnn.Data.Phantoms;

/// <summary>
/// The image-formation helpers both phantom generators use, on row-major width × height arrays: wavy tissue
/// boundaries, smooth random fields, separable Gaussian blur. Deterministic (no library randomness, fixed arithmetic
/// order), so a seed gives the same bytes everywhere.
/// </summary>
static class PhantomImaging
{
    /// <summary>A wavy layer boundary: depth fraction per column.</summary>
    public static double[] Boundary(SplitMix rng, int width, double baseDepth, double amplitude)
    {
        double f1 = rng.Uniform(0.5, 1.6),
            f2 = rng.Uniform(1.5, 3.5),
            p1 = rng.Uniform(0, 6.3),
            p2 = rng.Uniform(0, 6.3);
        double a2 = rng.Uniform(0.2, 0.5);
        return Enumerable
            .Range(0, width)
            .Select(x =>
            {
                double t = (double)x / width;
                return baseDepth
                    + amplitude * (Math.Sin(2 * Math.PI * f1 * t + p1) + a2 * Math.Sin(2 * Math.PI * f2 * t + p2));
            })
            .ToArray();
    }

    /// <summary>Sum of random plane waves (between the given cycles per image side), scaled to about [−1, 1].</summary>
    public static double[] LowFrequencyField(
        SplitMix rng,
        int width,
        int height,
        int waves,
        double minCycles,
        double maxCycles
    )
    {
        var f = new double[width * height];
        for (int w = 0; w < waves; w++)
        {
            double angle = rng.Uniform(0, Math.PI),
                cycles = rng.Uniform(minCycles, maxCycles),
                phase = rng.Uniform(0, 6.3);
            double kx = Math.Cos(angle) * cycles * 2 * Math.PI / width,
                ky = Math.Sin(angle) * cycles * 2 * Math.PI / height;
            for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
                f[y * width + x] += Math.Sin(kx * x + ky * y + phase) / Math.Sqrt(waves);
        }
        return f;
    }

    public static double[] ToDouble(byte[] mask) => mask.Select(b => (double)b).ToArray();

    /// <summary>Separable Gaussian blur with edge clamping.</summary>
    public static double[] Blur(double[] src, int width, int height, double sigmaX, double sigmaY)
    {
        var tmp = Convolve(src, width, height, Kernel(sigmaX), horizontal: true);
        return Convolve(tmp, width, height, Kernel(sigmaY), horizontal: false);
    }

    static double[] Kernel(double sigma)
    {
        int radius = Math.Max(1, (int)Math.Ceiling(3 * sigma));
        var k = Enumerable
            .Range(-radius, 2 * radius + 1)
            .Select(i => Math.Exp(-0.5 * i * i / (sigma * sigma)))
            .ToArray();
        double sum = k.Sum();
        return k.Select(v => v / sum).ToArray();
    }

    static double[] Convolve(double[] src, int width, int height, double[] k, bool horizontal)
    {
        int r = k.Length / 2;
        var dst = new double[width * height];
        for (int y = 0; y < height; y++)
        for (int x = 0; x < width; x++)
        {
            double s = 0;
            for (int i = -r; i <= r; i++)
            {
                int xx = horizontal ? Math.Clamp(x + i, 0, width - 1) : x;
                int yy = horizontal ? y : Math.Clamp(y + i, 0, height - 1);
                s += k[i + r] * src[yy * width + xx];
            }
            dst[y * width + x] = s;
        }
        return dst;
    }
}
