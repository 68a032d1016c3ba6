using System.Diagnostics;
using TorchSharp;
using static TorchSharp.torch;

namespace MaskRcnn.Teaching;

/// <summary>
/// Selective search (Uijlings, van de Sande, Gevers, Smeulders, "Selective Search for Object Recognition", IJCV
/// 104(2), 2013), the proposal method of R-CNN, SPPnet and Fast R-CNN, written here for grayscale ultrasound:
/// <list type="number">
/// <item>initial regions by <see cref="GraphSegmentation"/> (Felzenszwalb–Huttenlocher) at scale k;</item>
/// <item>hierarchical grouping: the two most similar neighbouring regions are merged, again and again, until one
/// region is left; similarity = intensity-histogram overlap (25 bins) + texture-histogram overlap (Gaussian
/// derivatives in 8 orientations, 10 bins each) + size (small regions merge first) + fill (regions whose box they
/// would fill merge first) — each in [0, 1];</item>
/// <item>the box of every region of the hierarchy is a proposal;</item>
/// <item>diversification: the grouping runs for several k and two similarity sets (all four, and without
/// intensity), as the paper's "fast" mode runs two k, two colour spaces and two similarity sets;</item>
/// <item>ranking as the paper's: each strategy's boxes numbered from the top of its hierarchy (1 = the last merge),
/// times a random number in [0, 1); lowest first, duplicates removed.</item>
/// </list>
/// The paper's colour spaces are replaced by the one intensity channel ultrasound has.
/// </summary>
public static class SelectiveSearch
{
    /// <summary>The settings: the scales k (each also the minimum region size, as in the paper's code), whether to
    /// group also without the intensity similarity, the Gaussian blur, and the ranking's random seed.</summary>
    public sealed record Options(
        IReadOnlyList<int> Scales,
        bool AlsoWithoutIntensity = true,
        double Sigma = 0.8,
        int Seed = 0
    )
    {
        /// <summary>k = 50, 100, 200, 400 with both similarity sets: eight strategies.</summary>
        public static Options Default => new([50, 100, 200, 400]);
    }

    /// <summary>
    /// The proposals of one image: boxes [N, 4] (x1, y1, x2, y2 in its pixels, best ranked first), the initial
    /// regions of the first scale (for drawing), the scales and how many regions each started from, and the time
    /// taken.
    /// </summary>
    public sealed record Result(
        Tensor Boxes,
        GraphSegmentation.Result FirstSegmentation,
        IReadOnlyList<int> Scales,
        IReadOnlyList<int> InitialRegions,
        double Seconds
    );

    /// <param name="image">[3, H, W] or [H, W], values in [0, 1]</param>
    public static Result Run(Tensor image, Options? options = null, int max = int.MaxValue)
    {
        options ??= Options.Default;
        var watch = Stopwatch.StartNew();
        var (gray, width, height) = Intensities(image);
        var texture = TextureBins(gray, width, height);
        var ranked = new List<(double Value, Box Box)>();
        var initial = new List<int>();
        GraphSegmentation.Result? first = null;
        var random = new Random(options.Seed);
        foreach (int k in options.Scales)
        {
            var segments = GraphSegmentation.Segment(gray, width, height, k, k, options.Sigma);
            first ??= segments;
            initial.Add(segments.Count);
            foreach (bool withIntensity in options.AlsoWithoutIntensity ? new[] { true, false } : [true])
            {
                var boxes = Group(segments, gray, texture, withIntensity);
                for (int i = 0; i < boxes.Count; i++)
                    ranked.Add(((boxes.Count - i) * random.NextDouble(), boxes[i]));
            }
        }
        var unique = ranked.OrderBy(r => r.Value).Select(r => r.Box).Distinct().Take(max).ToList();
        var flat = unique.SelectMany(b => new float[] { b.X1, b.Y1, b.X2, b.Y2 }).ToArray();
        var tensorBoxes = flat.Length == 0 ? zeros(0, 4) : tensor(flat).view(-1, 4);
        return new Result(tensorBoxes, first!, options.Scales, initial, watch.Elapsed.TotalSeconds);
    }

    /// <summary>A region's box in pixels (x2, y2 exclusive).</summary>
    readonly record struct Box(int X1, int Y1, int X2, int Y2)
    {
        public Box Union(Box o) => new(Math.Min(X1, o.X1), Math.Min(Y1, o.Y1), Math.Max(X2, o.X2), Math.Max(Y2, o.Y2));

        public int Area => (X2 - X1) * (Y2 - Y1);
    }

    /// <summary>What grouping knows of a region: its size, box and normalised histograms.</summary>
    sealed class Region(int size, Box box, float[] intensity, float[] texture)
    {
        public int Size = size;
        public Box Box = box;
        public float[] Intensity = intensity;
        public float[] Texture = texture;
        public HashSet<int> Neighbours = [];
        public bool Alive = true;
    }

    const int IntensityBins = 25;
    const int Orientations = 8;
    const int TextureBinsPerOrientation = 10;

    /// <summary>
    /// Hierarchical grouping of one segmentation: the boxes of the initial regions, then of each merged region in the
    /// order the merges happen (the last one covers the whole image).
    /// </summary>
    static List<Box> Group(GraphSegmentation.Result segments, float[] gray, byte[][] texture, bool withIntensity)
    {
        var regions = InitialRegions(segments, gray, texture);
        var boxes = regions.Select(r => r.Box).ToList();
        int imageSize = segments.Width * segments.Height;
        double Similarity(Region a, Region b)
        {
            double size = 1 - (double)(a.Size + b.Size) / imageSize;
            double fill = 1 - (double)(a.Box.Union(b.Box).Area - a.Size - b.Size) / imageSize;
            double s = Overlap(a.Texture, b.Texture) + size + fill;
            return withIntensity ? s + Overlap(a.Intensity, b.Intensity) : s;
        }
        var queue = new PriorityQueue<(int A, int B), double>();
        for (int a = 0; a < regions.Count; a++)
            foreach (int b in regions[a].Neighbours.Where(b => b > a))
                queue.Enqueue((a, b), -Similarity(regions[a], regions[b]));
        while (queue.TryDequeue(out var pair, out _))
        {
            var (a, b) = (regions[pair.A], regions[pair.B]);
            if (!a.Alive || !b.Alive)
                continue;
            var merged = Merge(a, b);
            merged.Neighbours.Remove(pair.A);
            merged.Neighbours.Remove(pair.B);
            int id = regions.Count;
            regions.Add(merged);
            boxes.Add(merged.Box);
            foreach (int n in merged.Neighbours)
            {
                regions[n].Neighbours.Remove(pair.A);
                regions[n].Neighbours.Remove(pair.B);
                regions[n].Neighbours.Add(id);
                queue.Enqueue((n, id), -Similarity(regions[n], merged));
            }
        }
        return boxes;
    }

    static Region Merge(Region a, Region b)
    {
        int size = a.Size + b.Size;
        float[] Mix(float[] x, float[] y) => x.Select((v, i) => (v * a.Size + y[i] * b.Size) / size).ToArray();
        var merged = new Region(size, a.Box.Union(b.Box), Mix(a.Intensity, b.Intensity), Mix(a.Texture, b.Texture));
        merged.Neighbours.UnionWith(a.Neighbours);
        merged.Neighbours.UnionWith(b.Neighbours);
        a.Alive = b.Alive = false;
        return merged;
    }

    static double Overlap(float[] x, float[] y)
    {
        double s = 0;
        for (int i = 0; i < x.Length; i++)
            s += Math.Min(x[i], y[i]);
        return s;
    }

    /// <summary>Size, box, histograms and neighbours (4-connected) of every initial region.</summary>
    static List<Region> InitialRegions(GraphSegmentation.Result segments, float[] gray, byte[][] texture)
    {
        int n = segments.Count,
            w = segments.Width,
            h = segments.Height;
        var labels = segments.Labels;
        var size = new int[n];
        var box = Enumerable.Repeat(new Box(w, h, 0, 0), n).ToArray();
        var intensity = new float[n][];
        var textureHistogram = new float[n][];
        for (int r = 0; r < n; r++)
        {
            intensity[r] = new float[IntensityBins];
            textureHistogram[r] = new float[Orientations * TextureBinsPerOrientation];
        }
        var neighbours = Enumerable.Range(0, n).Select(_ => new HashSet<int>()).ToArray();
        for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
        {
            int p = y * w + x,
                r = labels[p];
            size[r]++;
            var b = box[r];
            box[r] = new Box(Math.Min(b.X1, x), Math.Min(b.Y1, y), Math.Max(b.X2, x + 1), Math.Max(b.Y2, y + 1));
            intensity[r][Math.Min(IntensityBins - 1, (int)(gray[p] / 256f * IntensityBins))]++;
            for (int o = 0; o < Orientations; o++)
                textureHistogram[r][o * TextureBinsPerOrientation + texture[o][p]]++;
            if (x + 1 < w && labels[p + 1] != r)
                Link(neighbours, r, labels[p + 1]);
            if (y + 1 < h && labels[p + w] != r)
                Link(neighbours, r, labels[p + w]);
        }
        var regions = new List<Region>(2 * n);
        for (int r = 0; r < n; r++)
        {
            var region = new Region(size[r], box[r], Normalise(intensity[r]), Normalise(textureHistogram[r]));
            region.Neighbours.UnionWith(neighbours[r]);
            regions.Add(region);
        }
        return regions;
    }

    static void Link(HashSet<int>[] neighbours, int a, int b)
    {
        neighbours[a].Add(b);
        neighbours[b].Add(a);
    }

    static float[] Normalise(float[] histogram)
    {
        float total = histogram.Sum();
        return total > 0 ? histogram.Select(v => v / total).ToArray() : histogram;
    }

    /// <summary>
    /// Per orientation θ = 0°, 45°, …, 315°, the bin (0–9) of each pixel's Gaussian-derivative response
    /// max(0, cos θ ∂I/∂x + sin θ ∂I/∂y) (σ = 1), scaled to the largest response of that orientation in the image.
    /// </summary>
    static byte[][] TextureBins(float[] gray, int width, int height)
    {
        var smooth = GraphSegmentation.Blur(gray, width, height, 1.0);
        var gx = new float[gray.Length];
        var gy = new float[gray.Length];
        for (int y = 0; y < height; y++)
        for (int x = 0; x < width; x++)
        {
            int p = y * width + x;
            gx[p] = (smooth[y * width + Math.Min(x + 1, width - 1)] - smooth[y * width + Math.Max(x - 1, 0)]) / 2;
            gy[p] = (smooth[Math.Min(y + 1, height - 1) * width + x] - smooth[Math.Max(y - 1, 0) * width + x]) / 2;
        }
        var bins = new byte[Orientations][];
        for (int o = 0; o < Orientations; o++)
        {
            double angle = o * Math.PI / 4;
            float c = (float)Math.Cos(angle),
                s = (float)Math.Sin(angle);
            var response = new float[gray.Length];
            float max = 1e-6f;
            for (int p = 0; p < gray.Length; p++)
                max = Math.Max(max, response[p] = Math.Max(0, c * gx[p] + s * gy[p]));
            bins[o] = response
                .Select(v => (byte)Math.Min(TextureBinsPerOrientation - 1, (int)(v / max * TextureBinsPerOrientation)))
                .ToArray();
        }
        return bins;
    }

    /// <summary>The image as 0–255 intensities (the mean of its channels), row-major.</summary>
    static (float[] Gray, int Width, int Height) Intensities(Tensor image)
    {
        using var scope = NewDisposeScope();
        var gray = (image.dim() == 3 ? image.mean([0]) : image).detach().cpu().to(float32) * 255;
        return (gray.contiguous().data<float>().ToArray(), (int)gray.shape[1], (int)gray.shape[0]);
    }
}
