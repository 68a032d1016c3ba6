using MaskRcnn.Data.Via;

namespace MaskRcnn.Data.Phantoms;

/// <summary>A lesion drawn into a phantom: its class and its outline (the annotation polygon).</summary>
public sealed record PhantomLesion(string ClassName, double[] Xs, double[] Ys);

/// <summary>A synthetic B-mode image: 8-bit grayscale, row-major (<see cref="Width"/> per row), and the lesions in
/// it.</summary>
public sealed record Phantom(int Width, int Height, byte[] Pixels, IReadOnlyList<PhantomLesion> Lesions)
{
    /// <summary>The side of a square phantom (the easy set's); an error for the busi set's rectangles.</summary>
    public int Size =>
        Width == Height ? Width : throw new InvalidOperationException($"a {Width}×{Height} phantom has no single size");

    /// <summary>"normal", "benign" or "malignant" (the most severe lesion).</summary>
    public string ImageClass =>
        Lesions.Count == 0 ? "normal"
        : Lesions.Any(l => l.ClassName == "malignant") ? "malignant"
        : "benign";
}

/// <summary>
/// Synthetic breast-ultrasound phantoms (linear probe, B-mode), built the way the images form:
/// an echogenicity map of tissue layers — bright skin, hypoechoic subcutaneous fat with lobules and
/// Cooper's ligaments, heterogeneous hyperechoic fibroglandular tissue, striated pectoral muscle, a bright
/// chest-wall line — with lesions drawn in; then fully developed speckle (Rayleigh amplitude of laterally
/// correlated complex noise), depth attenuation with partial time-gain compensation, and log compression.
/// Benign lesions are oval, circumscribed, wider than tall, hypoechoic and often show posterior acoustic
/// enhancement; malignant ones are irregular or spiculated, taller than wide, markedly hypoechoic and
/// heterogeneous, often with an echogenic halo, and cast a posterior acoustic shadow. Hypoechoic fat lobules
/// (not lesions) make the task less trivial. Deterministic: the same seed gives the same bytes.
/// </summary>
public static class PhantomGenerator
{
    public static Phantom Generate(int size, ulong seed)
    {
        if (size < 64)
            throw new ArgumentException($"phantom size must be ≥ 64 px, got {size}");
        var rng = new SplitMix(seed);
        int n = size;
        var echo = new double[n * n];

        // ---- tissue layers -----------------------------------------------------------------------------
        var skin = PhantomImaging.Boundary(rng, n, 0.035, 0.008);
        var fat = PhantomImaging.Boundary(rng, n, rng.Uniform(0.17, 0.29), 0.035);
        var gland = PhantomImaging.Boundary(rng, n, rng.Uniform(0.66, 0.78), 0.045);
        var muscle = PhantomImaging.Boundary(rng, n, rng.Uniform(0.85, 0.92), 0.015);
        double skinEcho = rng.Uniform(0.85, 1.0),
            fatEcho = rng.Uniform(0.26, 0.36),
            glandEcho = rng.Uniform(0.62, 0.82);
        double muscleEcho = rng.Uniform(0.38, 0.5),
            deepEcho = rng.Uniform(0.12, 0.22);
        var texture = PhantomImaging.LowFrequencyField(rng, n, n, 7, 2, 9);
        double striation = rng.Uniform(3.0, 5.0),
            striationPhase = rng.Uniform(0, 2 * Math.PI);
        for (int y = 0; y < n; y++)
        for (int x = 0; x < n; x++)
        {
            double d = (double)y / n;
            double e;
            if (d < skin[x])
                e = skinEcho;
            else if (d < fat[x])
                e = fatEcho * (1 + 0.15 * texture[y * n + x]);
            else if (d < gland[x])
                e = glandEcho * (1 + 0.3 * texture[y * n + x]);
            else if (d < muscle[x])
                e =
                    muscleEcho
                    * (1 + 0.35 * Math.Sin(2 * Math.PI * y / striation + striationPhase + 2 * texture[y * n + x]));
            else
                e = deepEcho + (Math.Abs(d - muscle[x] - 0.012) < 0.006 ? 0.8 : 0); // chest-wall line
            echo[y * n + x] = e;
        }

        // ---- fat lobules: hypoechoic ovals with bright rims (normal anatomy, not annotated) --------------------
        int lobules = rng.Int(3, 8);
        for (int i = 0; i < lobules; i++)
        {
            double cx = rng.Uniform(0.05, 0.95) * n,
                rx = rng.Uniform(0.03, 0.08) * n;
            double top = fat[Math.Clamp((int)cx, 0, n - 1)];
            double cy = rng.Uniform(skin[Math.Clamp((int)cx, 0, n - 1)] + 0.03, top + 0.12) * n,
                ry = rx * rng.Uniform(0.4, 0.7);
            var mask = Rasterizer.Rasterize(new EllipseShape(cx, cy, rx, ry, rng.Uniform(-0.3, 0.3)), n, n);
            var soft = PhantomImaging.Blur(PhantomImaging.ToDouble(mask), n, n, 1.0, 1.0);
            var rim = PhantomImaging.Blur(PhantomImaging.ToDouble(mask), n, n, 1.6, 1.6);
            double level = fatEcho * rng.Uniform(0.85, 1.1);
            for (int p = 0; p < n * n; p++)
            {
                double ring = Math.Max(0, rim[p] - soft[p]) * 2.5;
                echo[p] = echo[p] * (1 - soft[p]) + level * soft[p] + 0.5 * ring;
            }
        }

        // ---- lesions ---------------------------------------------------------------------------------------
        double u = rng.NextDouble();
        int count =
            u < 0.22 ? 0
            : u < 0.77 ? 1
            : 2;
        var lesions = new List<PhantomLesion>();
        var placed = new List<(double X, double Y, double R)>();
        for (int i = 0; i < count; i++)
        {
            string cls = rng.NextDouble() < 0.5 ? "benign" : "malignant";
            for (int attempt = 0; attempt < 30; attempt++)
            {
                double r0 = rng.Uniform(0.055, 0.13) * n;
                double cx = rng.Uniform(0.18, 0.82) * n;
                double top = (fat[Math.Clamp((int)cx, 0, n - 1)] + 0.02) * n + r0 * 1.3;
                double bottom = Math.Min(0.68 * n, (gland[Math.Clamp((int)cx, 0, n - 1)] - 0.05) * n - r0);
                if (bottom <= top)
                    continue;
                double cy = rng.Uniform(top, bottom);
                if (placed.Any(p => Math.Sqrt((p.X - cx) * (p.X - cx) + (p.Y - cy) * (p.Y - cy)) < (p.R + r0) * 1.6))
                    continue;
                var outline = cls == "benign" ? BenignOutline(rng, cx, cy, r0) : MalignantOutline(rng, cx, cy, r0);
                if (
                    outline.Xs.Min() < 2
                    || outline.Xs.Max() > n - 3
                    || outline.Ys.Min() < 2
                    || outline.Ys.Max() > n - 3
                )
                    continue;
                DrawLesion(rng, echo, n, cls, outline, glandEcho);
                placed.Add((cx, cy, r0 * 1.5));
                lesions.Add(
                    new PhantomLesion(
                        cls,
                        outline.Xs.Select(v => Math.Round(v, 1)).ToArray(),
                        outline.Ys.Select(v => Math.Round(v, 1)).ToArray()
                    )
                );
                break;
            }
        }

        // ---- image formation ----------------------------------------------------------------------------------
        var re = new double[n * n];
        var im = new double[n * n];
        for (int p = 0; p < n * n; p++)
        {
            re[p] = rng.Gaussian();
            im[p] = rng.Gaussian();
        }
        double sx = rng.Uniform(1.2, 1.7),
            sy = rng.Uniform(0.6, 0.9); // lateral resolution worse than axial
        re = PhantomImaging.Blur(re, n, n, sx, sy);
        im = PhantomImaging.Blur(im, n, n, sx, sy);
        var amp = new double[n * n];
        double mean = 0;
        for (int p = 0; p < n * n; p++)
        {
            amp[p] = Math.Sqrt(re[p] * re[p] + im[p] * im[p]);
            mean += amp[p];
        }
        mean /= n * n;
        double alpha = rng.Uniform(0.9, 1.6),
            tgc = rng.Uniform(0.3, 0.9),
            gain = rng.Uniform(0.85, 1.1),
            compress = rng.Uniform(15, 35);
        var pixels = new byte[n * n];
        double reference = Math.Log(1 + compress * 1.4);
        for (int y = 0; y < n; y++)
        {
            double d = (double)y / n;
            double depthGain = Math.Exp(-alpha * d) * (1 + tgc * d) * (1 + 0.25 * Math.Exp(-d / 0.02));
            for (int x = 0; x < n; x++)
            {
                int p = y * n + x;
                double intensity = echo[p] * amp[p] / mean * depthGain;
                double v = gain * Math.Log(1 + compress * Math.Max(0, intensity)) / reference;
                pixels[p] = (byte)Math.Clamp(Math.Round(v * 255), 0, 255);
            }
        }
        return new Phantom(n, n, pixels, lesions);
    }

    /// <summary>The easy set's ovals: visibly lobulated in 30 %.</summary>
    static readonly LesionOutlines.OvalStyle Oval = new(
        MaxTilt: 0.25,
        LobulatedShare: 0.3,
        (0.04, 0.08),
        MaxSmooth: 0.025
    );

    /// <summary>The easy set's irregular outlines: 6 harmonics, 70 % spiculated.</summary>
    static readonly LesionOutlines.IrregularStyle Irregular = new(
        Harmonics: 6,
        Amplitude: 0.22,
        Spikes: (6, 15),
        SpikeWidth: (0.06, 0.16),
        SpikeHeight: (0.2, 0.55),
        MinRadius: 0.45
    );

    /// <summary>Oval, circumscribed, wider than tall (width/height 1.3–2), gently lobulated at most.</summary>
    static (double[] Xs, double[] Ys) BenignOutline(SplitMix rng, double cx, double cy, double r0)
    {
        double aspect = rng.Uniform(1.3, 2.0);
        return LesionOutlines.Oval(rng, cx, cy, r0 * Math.Sqrt(aspect), r0 / Math.Sqrt(aspect), Oval);
    }

    /// <summary>Irregular or spiculated, taller than wide (height/width 1.1–1.6).</summary>
    static (double[] Xs, double[] Ys) MalignantOutline(SplitMix rng, double cx, double cy, double r0)
    {
        double aspect = rng.Uniform(1.1, 1.6);
        return LesionOutlines.Irregular(
            rng,
            cx,
            cy,
            r0 / Math.Sqrt(aspect),
            r0 * Math.Sqrt(aspect),
            Irregular,
            spiculated: () => rng.NextDouble() < 0.7
        );
    }

    static void DrawLesion(
        SplitMix rng,
        double[] echo,
        int n,
        string cls,
        (double[] Xs, double[] Ys) outline,
        double glandEcho
    )
    {
        var mask = Rasterizer.Rasterize(new PolygonShape(outline.Xs, outline.Ys), n, n);
        var soft = PhantomImaging.Blur(PhantomImaging.ToDouble(mask), n, n, 0.8, 0.8);
        bool benign = cls == "benign";
        double level = benign
            ? (rng.NextDouble() < 0.15 ? rng.Uniform(0.3, 0.45) : rng.Uniform(0.05, 0.3)) // some nearly isoechoic
            : rng.Uniform(0.03, 0.17);
        double heterogeneity = benign ? rng.Uniform(0.0, 0.15) : rng.Uniform(0.3, 0.6);
        var inner = heterogeneity > 0 ? PhantomImaging.LowFrequencyField(rng, n, n, 5, 6, 16) : new double[n * n];
        bool rimmed = rng.NextDouble() < 0.5;
        double rimGain = benign ? rng.Uniform(0.3, 0.6) : rng.Uniform(0.4, 0.8);
        var wide = rimmed
            ? PhantomImaging.Blur(PhantomImaging.ToDouble(mask), n, n, benign ? 1.2 : 2.6, benign ? 1.2 : 2.6)
            : null;
        for (int p = 0; p < n * n; p++)
        {
            double inside = level * glandEcho / 0.72 * (1 + heterogeneity * inner[p]);
            echo[p] = echo[p] * (1 - soft[p]) + Math.Max(0.01, inside) * soft[p];
            if (wide is not null)
                echo[p] += rimGain * Math.Max(0, wide[p] - soft[p]) * glandEcho;
        }

        // Posterior acoustic enhancement (benign) or shadowing (malignant) below the lesion, fading with depth.
        double effect = benign
            ? (rng.NextDouble() < 0.75 ? rng.Uniform(1.25, 1.7) : 1.0)
            : (rng.NextDouble() < 0.85 ? rng.Uniform(0.25, 0.6) : 1.0);
        if (effect == 1.0)
            return;
        double length = (benign ? rng.Uniform(0.12, 0.28) : rng.Uniform(0.25, 0.5)) * n;
        var bottom = new int[n];
        var thickness = new double[n];
        for (int x = 0; x < n; x++)
        {
            bottom[x] = -1;
            for (int y = 0; y < n; y++)
                if (mask[y * n + x] == 1)
                {
                    bottom[x] = y;
                    thickness[x]++;
                }
        }
        double maxThickness = Math.Max(1, thickness.Max());
        var factor = new double[n * n];
        for (int y = 0; y < n; y++)
        for (int x = 0; x < n; x++)
        {
            double f = 1;
            if (bottom[x] >= 0 && y > bottom[x])
            {
                double w = Math.Sqrt(thickness[x] / maxThickness);
                f = 1 + (effect - 1) * w * Math.Exp(-(y - bottom[x]) / length);
            }
            factor[y * n + x] = f;
        }
        factor = PhantomImaging.Blur(factor, n, n, 2.0, 0.5);
        for (int p = 0; p < n * n; p++)
            echo[p] *= factor[p];
    }
}
