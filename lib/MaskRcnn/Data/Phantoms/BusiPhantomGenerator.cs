using MaskRcnn.Data.Via;

namespace MaskRcnn.Data.Phantoms;

/// <summary>
/// The "busi" difficulty: phantoms shaped like the public BUSI dataset's scans (Al-Dhabyani et al. 2020) and with
/// what makes real breast ultrasound hard (data/README.md gives the reference for each):
/// <list type="bullet">
/// <item>non-square images of varying size (440–650 × 400–560 px) with a black frame, burned-in text, a depth
/// scale and, on a third of the lesion images, calipers across a lesion;</item>
/// <item>smaller lesions (diameters from about 5 % of the scan's width);</item>
/// <item>the overlap of real data: a quarter of benign lesions irregular or lobulated and a fifth shadowing; a third
/// of malignant lesions oval and circumscribed and a fifth with posterior enhancement; isoechoic and partly
/// hyperechoic lesions in both classes; posterior features weaker, or absent in a third;</item>
/// <item>heavier, coarser speckle, gain that varies with depth and across the image, near-field reverberation;</item>
/// <item>more confounders: fat lobules, ducts, Cooper's ligaments with their thin shadows.</item>
/// </list>
/// Deterministic: the same seed gives the same bytes (text is drawn with a built-in pixel font, not a system font).
/// </summary>
public static class BusiPhantomGenerator
{
    /// <summary>Share of images without a lesion (BUSI: 133 of 780).</summary>
    public const double NormalShare = 0.18;

    /// <summary>Share of all images with two lesions (the rest of the lesion images have one).</summary>
    public const double TwoLesionShare = 0.1;

    /// <summary>Share of lesion images whose lesions are benign (BUSI: 437 of 647; fewer here, to balance the
    /// classes).</summary>
    public const double BenignShare = 0.45;

    public static Phantom Generate(ulong seed) => Generate(seed, null, out _);

    /// <summary>
    /// The same phantom as <see cref="Generate(ulong)"/> (the same bytes) and what was drawn for it that the pixels
    /// only show: each lesion's look, in the order of <see cref="Phantom.Lesions"/>, and whether calipers were drawn
    /// across the first lesion — for ceiling and error analyses (<see cref="BusiClassCeiling"/>, which lesions a model
    /// misses).
    /// </summary>
    public static (Phantom Phantom, IReadOnlyList<LesionLook> Looks, bool Calipers) GenerateWithLatents(ulong seed)
    {
        var looks = new List<LesionLook>();
        var phantom = Generate(seed, looks, out bool calipers);
        return (phantom, looks, calipers);
    }

    static Phantom Generate(ulong seed, List<LesionLook>? looks, out bool calipers)
    {
        var rng = new SplitMix(seed);
        int width = rng.Int(440, 651),
            height = rng.Int(400, 561);
        // The scan inside the frame: a header strip with text, a right margin with the depth scale.
        int left = (int)(width * rng.Uniform(0.03, 0.08)),
            right = width - (int)(width * rng.Uniform(0.09, 0.13));
        int top = (int)(height * rng.Uniform(0.08, 0.12)),
            bottom = height - (int)(height * rng.Uniform(0.0, 0.04));
        int w = right - left,
            h = bottom - top;
        var echo = Tissue(rng, w, h, out var fat, out var gland, out double glandEcho);

        // ---- lesions -------------------------------------------------------------------------------------
        double u = rng.NextDouble();
        int count =
            u < NormalShare ? 0
            : u < 1 - TwoLesionShare ? 1
            : 2;
        string imageClass = rng.NextDouble() < BenignShare ? "benign" : "malignant"; // one class per image, as BUSI's
        var lesions = new List<PhantomLesion>();
        var placed = new List<(double X, double Y, double R)>();
        for (int i = 0; i < count; i++)
        {
            for (int attempt = 0; attempt < 40; attempt++)
            {
                double r0 = rng.Uniform(0.025, 0.12) * w;
                double cx = rng.Uniform(0.12, 0.88) * w;
                int column = Math.Clamp((int)cx, 0, w - 1);
                double topLimit = (fat[column] + 0.02) * h + r0 * 1.2;
                double bottomLimit = Math.Min(0.75 * h, gland[column] * h - r0 * 0.6);
                if (bottomLimit <= topLimit)
                    continue;
                double cy = rng.Uniform(topLimit, bottomLimit);
                if (placed.Any(p => Math.Sqrt((p.X - cx) * (p.X - cx) + (p.Y - cy) * (p.Y - cy)) < (p.R + r0) * 1.5))
                    continue;
                var look = LesionLook.Draw(rng, imageClass);
                var outline = Outline(rng, cx, cy, r0, look);
                if (
                    outline.Xs.Min() < 3
                    || outline.Xs.Max() > w - 4
                    || outline.Ys.Min() < 3
                    || outline.Ys.Max() > h - 4
                )
                    continue;
                DrawLesion(rng, echo, w, h, outline, look, glandEcho);
                placed.Add((cx, cy, r0 * 1.4));
                looks?.Add(look);
                lesions.Add(
                    new PhantomLesion(
                        imageClass,
                        outline.Xs.Select(v => Math.Round(v + left, 1)).ToArray(),
                        outline.Ys.Select(v => Math.Round(v + top, 1)).ToArray()
                    )
                );
                break;
            }
        }

        var scan = FormImage(rng, echo, w, h);
        var pixels = new byte[width * height];
        for (int y = 0; y < h; y++)
            Array.Copy(scan, y * w, pixels, (y + top) * width + left, w);
        calipers = Overlays.Draw(rng, pixels, width, height, (left, top, right, bottom), lesions);
        return new Phantom(width, height, pixels, lesions);
    }

    /// <summary>Tissue layers and the normal anatomy that looks like lesions: fat lobules, ducts, Cooper's
    /// ligaments.</summary>
    static double[] Tissue(SplitMix rng, int w, int h, out double[] fat, out double[] gland, out double glandEcho)
    {
        var echo = new double[w * h];
        var skin = PhantomImaging.Boundary(rng, w, 0.03, 0.006);
        fat = PhantomImaging.Boundary(rng, w, rng.Uniform(0.15, 0.3), 0.04);
        gland = PhantomImaging.Boundary(rng, w, rng.Uniform(0.68, 0.82), 0.05);
        var muscle = PhantomImaging.Boundary(rng, w, rng.Uniform(0.86, 0.95), 0.015);
        double skinEcho = rng.Uniform(0.75, 1.0),
            fatEcho = rng.Uniform(0.25, 0.4);
        glandEcho = rng.Uniform(0.5, 0.85);
        double muscleEcho = rng.Uniform(0.35, 0.5),
            deepEcho = rng.Uniform(0.1, 0.2);
        var texture = PhantomImaging.LowFrequencyField(rng, w, h, 9, 2, 12);
        double striation = rng.Uniform(3.0, 6.0),
            phase = rng.Uniform(0, 2 * Math.PI);
        for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
        {
            double d = (double)y / h;
            int p = y * w + x;
            echo[p] =
                d < skin[x] ? skinEcho
                : d < fat[x] ? fatEcho * (1 + 0.2 * texture[p])
                : d < gland[x] ? glandEcho * (1 + 0.4 * texture[p])
                : d < muscle[x]
                    ? muscleEcho * (1 + 0.35 * Math.Sin(2 * Math.PI * y / striation + phase + 2 * texture[p]))
                : deepEcho + (Math.Abs(d - muscle[x] - 0.012) < 0.006 ? 0.7 : 0);
        }

        // Fat lobules: hypoechoic ovals with bright rims in the fat and the upper gland.
        int lobules = rng.Int(4, 11);
        for (int i = 0; i < lobules; i++)
        {
            double cx = rng.Uniform(0.03, 0.97) * w,
                rx = rng.Uniform(0.025, 0.1) * w;
            int column = Math.Clamp((int)cx, 0, w - 1);
            double cy = rng.Uniform(skin[column] + 0.03, fat[column] + 0.15) * h,
                ry = rx * rng.Uniform(0.35, 0.7);
            var (soft, rim, box) = Soft(new EllipseShape(cx, cy, rx, ry, rng.Uniform(-0.3, 0.3)), w, h, 1.2, 2.0);
            double level = fatEcho * rng.Uniform(0.8, 1.15);
            Paste(echo, w, box, (e, s, r) => e * (1 - s) + level * s + 0.45 * Math.Max(0, r - s) * 2.5, soft, rim);
        }

        // Ducts: long anechoic tubes with echogenic walls, roughly parallel to the skin, in the gland.
        int ducts = rng.Int(0, 3);
        for (int i = 0; i < ducts; i++)
        {
            double cx = rng.Uniform(0.1, 0.9) * w,
                rx = rng.Uniform(0.06, 0.16) * w,
                ry = rng.Uniform(0.005, 0.012) * w;
            int column = Math.Clamp((int)cx, 0, w - 1);
            double cy = rng.Uniform(fat[column] + 0.05, gland[column] - 0.05) * h;
            var (soft, rim, box) = Soft(new EllipseShape(cx, cy, rx, ry, rng.Uniform(-0.2, 0.2)), w, h, 0.8, 1.5);
            double level = rng.Uniform(0.08, 0.25) * glandEcho,
                wall = glandEcho;
            Paste(echo, w, box, (e, s, r) => e * (1 - s) + level * s + 0.5 * wall * Math.Max(0, r - s) * 2, soft, rim);
        }

        // Cooper's ligaments: thin bright arcs in the fat, each with a thin shadow beneath (a classic false lesion).
        int ligaments = rng.Int(2, 7);
        var shadow = new double[w * h];
        Array.Fill(shadow, 1.0);
        for (int i = 0; i < ligaments; i++)
        {
            double x0 = rng.Uniform(0.0, 0.9) * w,
                span = rng.Uniform(0.08, 0.25) * w,
                bend = rng.Uniform(-0.04, 0.04) * h;
            int column = Math.Clamp((int)(x0 + span / 2), 0, w - 1);
            double y0 = rng.Uniform(skin[column] + 0.02, fat[column]) * h;
            double strength = rng.Uniform(0.55, 0.85),
                length = rng.Uniform(0.15, 0.45) * h;
            for (int x = (int)x0; x < Math.Min(w, (int)(x0 + span)); x++)
            {
                double t = (x - x0) / span;
                int yl = (int)(
                    y0 + bend * Math.Sin(Math.PI * t) + 0.3 * span * (t - 0.5) * rng.Uniform(0.9, 1.1) * 0.2
                );
                if (yl < 1 || yl >= h - 1)
                    continue;
                for (int dy = -1; dy <= 1; dy++)
                    echo[(yl + dy) * w + x] += (dy == 0 ? 0.6 : 0.3) * glandEcho;
                if (Math.Abs(t - 0.5) < 0.15)
                    for (int y = yl + 2; y < h; y++)
                        shadow[y * w + x] = Math.Min(
                            shadow[y * w + x],
                            1 - (1 - strength) * Math.Exp(-(y - yl) / length)
                        );
            }
        }
        shadow = PhantomImaging.Blur(shadow, w, h, 1.5, 0.5);
        for (int p = 0; p < w * h; p++)
            echo[p] *= shadow[p];
        return echo;
    }

    /// <summary>
    /// How one lesion looks, drawn from its class: shape (oval, or irregular and then perhaps spiculated), aspect
    /// (width / height, before the outline's lobulation and tilt), internal echo pattern ("hypo", "iso", "anechoic",
    /// "partly-hyper") and posterior factor (&gt; 1 enhancement, 1 none, &lt; 1 shadowing); fractions in
    /// data/README.md. <see cref="Draw"/> is the generator's own draw, so analyses sample exactly its distribution.
    /// </summary>
    public sealed record LesionLook(
        bool Oval,
        double Aspect,
        bool Spiculated,
        string Echo,
        double PosteriorFactor,
        bool Benign
    )
    {
        public static LesionLook Draw(SplitMix rng, string cls)
        {
            bool benign = cls == "benign";
            // Shape and orientation: typical, or the overlap with the other class.
            bool oval = benign ? rng.NextDouble() < 0.75 : rng.NextDouble() < 0.3;
            double aspect = oval
                ? (benign ? rng.Uniform(1.2, 2.0) : rng.Uniform(0.9, 1.4)) // width / height
                : (benign ? rng.Uniform(1.0, 1.4) : rng.Uniform(0.65, 1.1));
            bool spiculated = !oval && !benign && rng.NextDouble() < 0.5;
            // Internal echo pattern.
            double e = rng.NextDouble();
            string echo = benign
                ? (
                    e < 0.55 ? "hypo"
                    : e < 0.8 ? "iso"
                    : e < 0.9 ? "anechoic"
                    : "partly-hyper"
                )
                : (
                    e < 0.7 ? "hypo"
                    : e < 0.85 ? "iso"
                    : "partly-hyper"
                );
            // Posterior features: weaker than the easy set's, absent in about a third, sometimes the other class's.
            double f = rng.NextDouble();
            double posterior = benign
                ? (
                    f < 0.45 ? rng.Uniform(1.1, 1.5)
                    : f < 0.8 ? 1.0
                    : rng.Uniform(0.5, 0.8)
                )
                : (
                    f < 0.5 ? rng.Uniform(0.4, 0.8)
                    : f < 0.8 ? 1.0
                    : rng.Uniform(1.1, 1.4)
                );
            return new LesionLook(oval, aspect, spiculated, echo, posterior, benign);
        }
    }

    /// <summary>The BUSI-like set's ovals: tilted a little more, visibly lobulated in 40 %.</summary>
    static readonly LesionOutlines.OvalStyle Oval = new(
        MaxTilt: 0.3,
        LobulatedShare: 0.4,
        (0.03, 0.08),
        MaxSmooth: 0.02
    );

    /// <summary>The BUSI-like set's irregular outlines: 7 stronger harmonics, fewer and finer spicules.</summary>
    static readonly LesionOutlines.IrregularStyle Irregular = new(
        Harmonics: 7,
        Amplitude: 0.3,
        Spikes: (5, 14),
        SpikeWidth: (0.05, 0.14),
        SpikeHeight: (0.15, 0.45),
        MinRadius: 0.5
    );

    /// <summary>The lesion's outline as its look says: oval or irregular, <see cref="LesionLook.Aspect"/> = width /
    /// height.</summary>
    static (double[] Xs, double[] Ys) Outline(SplitMix rng, double cx, double cy, double r0, LesionLook look)
    {
        double rx = r0 * Math.Sqrt(look.Aspect),
            ry = r0 / Math.Sqrt(look.Aspect);
        return look.Oval
            ? LesionOutlines.Oval(rng, cx, cy, rx, ry, Oval)
            : LesionOutlines.Irregular(rng, cx, cy, rx, ry, Irregular, spiculated: () => look.Spiculated);
    }

    static void DrawLesion(
        SplitMix rng,
        double[] echo,
        int w,
        int h,
        (double[] Xs, double[] Ys) outline,
        LesionLook look,
        double glandEcho
    )
    {
        var shape = new PolygonShape(outline.Xs, outline.Ys);
        var (soft, rim, box) = Soft(shape, w, h, look.Oval ? 0.8 : 1.1, look.Benign ? 1.4 : 2.6);
        double level =
            look.Echo switch
            {
                "anechoic" => rng.Uniform(0.01, 0.05),
                "iso" => rng.Uniform(0.55, 0.85), // close to the surrounding tissue: found by its margin only
                _ => look.Benign ? rng.Uniform(0.1, 0.35) : rng.Uniform(0.04, 0.2),
            } * glandEcho;
        double heterogeneity = look.Benign ? rng.Uniform(0.0, 0.25) : rng.Uniform(0.25, 0.6);
        var inner = PhantomImaging.LowFrequencyField(rng, box.W, box.H, 5, 2, 6);
        bool hyper = look.Echo == "partly-hyper";
        double hyperAngle = rng.Uniform(0, Math.PI),
            hyperLevel = rng.Uniform(0.9, 1.4) * glandEcho;
        bool rimmed = rng.NextDouble() < (look.Benign ? 0.4 : 0.5);
        double rimGain = rng.Uniform(0.2, 0.55) * glandEcho;
        for (int y = 0; y < box.H; y++)
        for (int x = 0; x < box.W; x++)
        {
            int q = y * box.W + x,
                p = (y + box.Y) * w + x + box.X;
            double inside = level * (1 + heterogeneity * inner[q]);
            // Partly hyperechoic: a bright sector (echogenic foci, fat or calcifications) inside the lesion.
            if (hyper && Math.Cos(Math.Atan2(y - box.H / 2.0, x - box.W / 2.0) - hyperAngle) > 0.55)
                inside = hyperLevel * (1 + 0.5 * inner[q]);
            echo[p] = echo[p] * (1 - soft[q]) + Math.Max(0.005, inside) * soft[q];
            if (rimmed)
                echo[p] += rimGain * Math.Max(0, rim[q] - soft[q]);
        }
        if (Math.Abs(look.PosteriorFactor - 1) < 1e-9)
            return;

        // Posterior enhancement or shadowing under the lesion, fading with depth.
        var mask = Rasterizer.Rasterize(shape, w, h);
        double length = rng.Uniform(0.15, 0.45) * h;
        var factor = new double[w * h];
        Array.Fill(factor, 1.0);
        var bottom = new int[w];
        var thickness = new double[w];
        for (int x = 0; x < w; x++)
        {
            bottom[x] = -1;
            for (int y = 0; y < h; y++)
                if (mask[y * w + x] == 1)
                {
                    bottom[x] = y;
                    thickness[x]++;
                }
        }
        double maxThickness = Math.Max(1, thickness.Max());
        for (int x = 0; x < w; x++)
        {
            if (bottom[x] < 0)
                continue;
            double weight = Math.Sqrt(thickness[x] / maxThickness);
            for (int y = bottom[x] + 1; y < h; y++)
                factor[y * w + x] = 1 + (look.PosteriorFactor - 1) * weight * Math.Exp(-(y - bottom[x]) / length);
        }
        factor = PhantomImaging.Blur(factor, w, h, 2.5, 0.5);
        for (int p = 0; p < w * h; p++)
            echo[p] *= factor[p];
    }

    /// <summary>Speckle, attenuation with uneven gain, reverberation, log compression.</summary>
    static byte[] FormImage(SplitMix rng, double[] echo, int w, int h)
    {
        var re = new double[w * h];
        var im = new double[w * h];
        for (int p = 0; p < w * h; p++)
        {
            re[p] = rng.Gaussian();
            im[p] = rng.Gaussian();
        }
        double sx = rng.Uniform(1.5, 2.6),
            sy = rng.Uniform(0.7, 1.2); // coarser, laterally smeared speckle
        re = PhantomImaging.Blur(re, w, h, sx, sy);
        im = PhantomImaging.Blur(im, w, h, sx, sy);
        var amp = new double[w * h];
        double mean = 0;
        for (int p = 0; p < w * h; p++)
        {
            amp[p] = Math.Sqrt(re[p] * re[p] + im[p] * im[p]);
            mean += amp[p];
        }
        mean /= w * h;
        double alpha = rng.Uniform(0.8, 2.0),
            tgc = rng.Uniform(0.2, 1.0),
            gain = rng.Uniform(0.7, 1.25),
            compress = rng.Uniform(6, 22);
        var lateral = PhantomImaging.LowFrequencyField(rng, w, 1, 3, 0.5, 2);
        double lateralAmount = rng.Uniform(0.05, 0.25),
            bandAmount = rng.Uniform(0.0, 0.25),
            bandCycles = rng.Uniform(1.5, 4);
        double reverberation = rng.Uniform(0.0, 0.6),
            reference = Math.Log(1 + compress * 1.4);
        var pixels = new byte[w * h];
        for (int y = 0; y < h; y++)
        {
            double d = (double)y / h;
            double depthGain =
                Math.Exp(-alpha * d)
                * (1 + tgc * d)
                * (1 + bandAmount * Math.Sin(2 * Math.PI * bandCycles * d))
                * (1 + reverberation * Math.Exp(-d / 0.025) * (0.5 + 0.5 * Math.Cos(2 * Math.PI * y / 6.0)));
            for (int x = 0; x < w; x++)
            {
                int p = y * w + x;
                double intensity = echo[p] * amp[p] / mean * depthGain * (1 + lateralAmount * lateral[x]);
                double v = gain * Math.Log(1 + compress * Math.Max(0, intensity)) / reference;
                pixels[p] = (byte)Math.Clamp(Math.Round(v * 255), 0, 255);
            }
        }
        return pixels;
    }

    /// <summary>A local bounding box inside the image.</summary>
    readonly record struct Box(int X, int Y, int W, int H);

    /// <summary>
    /// A shape rasterised and blurred only where it can matter — its bounding box plus a margin — as a soft mask and a
    /// wider blur for a rim; far cheaper than blurring the whole image per shape.
    /// </summary>
    static (double[] Soft, double[] Rim, Box Box) Soft(ViaShape shape, int w, int h, double sigma, double rimSigma)
    {
        var (bx1, by1, bx2, by2) = shape.Bounds;
        int margin = (int)Math.Ceiling(3 * Math.Max(sigma, rimSigma)) + 2;
        int x0 = Math.Max(0, (int)Math.Floor(bx1) - margin),
            y0 = Math.Max(0, (int)Math.Floor(by1) - margin);
        int x1 = Math.Min(w, (int)Math.Ceiling(bx2) + margin),
            y1 = Math.Min(h, (int)Math.Ceiling(by2) + margin);
        var box = new Box(x0, y0, Math.Max(1, x1 - x0), Math.Max(1, y1 - y0));
        var local = PhantomImaging.ToDouble(Rasterizer.Rasterize(shape.Transform(1, -x0, 1, -y0), box.W, box.H));
        return (
            PhantomImaging.Blur(local, box.W, box.H, sigma, sigma),
            PhantomImaging.Blur(local, box.W, box.H, rimSigma, rimSigma),
            box
        );
    }

    static void Paste(
        double[] echo,
        int w,
        Box box,
        Func<double, double, double, double> blend,
        double[] soft,
        double[] rim
    )
    {
        for (int y = 0; y < box.H; y++)
        for (int x = 0; x < box.W; x++)
        {
            int q = y * box.W + x,
                p = (y + box.Y) * w + x + box.X;
            echo[p] = blend(echo[p], soft[q], rim[q]);
        }
    }

    /// <summary>What an ultrasound machine burns into the image: text, a depth scale, an orientation mark,
    /// calipers.</summary>
    static class Overlays
    {
        /// <summary>Draws the overlays; true when calipers were drawn across the first lesion.</summary>
        public static bool Draw(
            SplitMix rng,
            byte[] pixels,
            int width,
            int height,
            (int Left, int Top, int Right, int Bottom) scan,
            IReadOnlyList<PhantomLesion> lesions
        )
        {
            byte bright = (byte)rng.Int(200, 256);
            string side = rng.NextDouble() < 0.5 ? "RT" : "LT";
            int clock = rng.Int(1, 13);
            double depthCm = Math.Round(rng.Uniform(3.0, 5.5), 1);
            string header = $"BREAST {side} {clock}:00 {rng.Int(1, 8)}CM FN";
            string probe = $"L12-5 {rng.Int(9, 15)}MHZ G{rng.Int(40, 71)} D{depthCm:F1}CM";
            int scale = height >= 480 ? 2 : 1;
            PixelFont.Write(pixels, width, height, header, scan.Left + 4, 4, scale, bright);
            PixelFont.Write(pixels, width, height, probe, scan.Left + 4, 6 + 8 * scale, scale, (byte)(bright * 0.8));

            // Depth scale: a tick every centimetre (longer at whole ones), numbered, in the right margin.
            int x = scan.Right + 3;
            double pixelsPerCm = (scan.Bottom - scan.Top) / depthCm;
            for (int mm = 0; mm <= depthCm * 10; mm += 5)
            {
                int y = scan.Top + (int)Math.Round(mm / 10.0 * pixelsPerCm);
                if (y >= height)
                    break;
                int len = mm % 10 == 0 ? 8 : 4;
                for (int i = 0; i < len && x + i < width; i++)
                    pixels[y * width + x + i] = bright;
                if (mm % 10 == 0 && mm > 0)
                    PixelFont.Write(pixels, width, height, (mm / 10).ToString(), x + 10, y - 3, 1, bright);
            }

            // Orientation mark: a small filled square at the scan's top-left corner.
            for (int dy = 0; dy < 5; dy++)
            for (int dx = 0; dx < 5; dx++)
                pixels[(scan.Top + 3 + dy) * width + scan.Left + 3 + dx] = bright;

            // Calipers across a third of the lesion images: '+' at both ends of the widest horizontal chord, dotted
            // between.
            if (lesions.Count > 0 && rng.NextDouble() < 0.35)
            {
                var l = lesions[0];
                int i0 = Array.IndexOf(l.Xs, l.Xs.Min()),
                    i1 = Array.IndexOf(l.Xs, l.Xs.Max());
                var a = ((int)l.Xs[i0] - 2, (int)l.Ys[i0]);
                var b = ((int)l.Xs[i1] + 2, (int)l.Ys[i1]);
                Cross(pixels, width, height, a, bright);
                Cross(pixels, width, height, b, bright);
                int steps = Math.Max(1, Math.Abs(b.Item1 - a.Item1) / 4);
                for (int s = 1; s < steps; s++)
                {
                    int px = a.Item1 + (b.Item1 - a.Item1) * s / steps,
                        py = a.Item2 + (b.Item2 - a.Item2) * s / steps;
                    if (px >= 0 && px < width && py >= 0 && py < height)
                        pixels[py * width + px] = bright;
                }
                PixelFont.Write(pixels, width, height, "1", b.Item1 + 5, b.Item2 - 9, 1, bright);
                return true;
            }
            return false;
        }

        static void Cross(byte[] pixels, int width, int height, (int X, int Y) c, byte value)
        {
            for (int d = -4; d <= 4; d++)
            {
                if (c.X + d >= 0 && c.X + d < width && c.Y >= 0 && c.Y < height)
                    pixels[c.Y * width + c.X + d] = value;
                if (c.Y + d >= 0 && c.Y + d < height && c.X >= 0 && c.X < width)
                    pixels[(c.Y + d) * width + c.X] = value;
            }
        }
    }
}
