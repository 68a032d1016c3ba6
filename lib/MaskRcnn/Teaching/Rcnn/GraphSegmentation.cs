namespace MaskRcnn.Teaching;

/// <summary>
/// Felzenszwalb–Huttenlocher graph-based segmentation ("Efficient Graph-Based Image Segmentation", IJCV 59(2), 2004),
/// on a grayscale image: selective search's initial regions. Pixels are the nodes of a graph whose edges join
/// 8-neighbours with weight |I(p) − I(q)| (after a Gaussian blur, σ = 0.8). Edges are visited from the lightest; an
/// edge joins its two components when its weight is at most both components' internal difference (their largest
/// joining edge so far) plus k / |component| — so small components merge easily and large ones only across weak
/// edges. A larger k gives larger regions. Components smaller than <c>minSize</c> pixels are merged into a neighbour
/// at the end.
/// </summary>
public static class GraphSegmentation
{
    /// <summary>A segmentation: a region index per pixel (row-major), 0 … <see cref="Count"/> − 1.</summary>
    public sealed record Result(int[] Labels, int Count, int Width, int Height);

    /// <param name="gray">intensities 0–255, row-major, <paramref name="width"/> × <paramref name="height"/></param>
    /// <param name="k">the scale: the threshold added to a component's internal difference is k / its size</param>
    /// <param name="minSize">components smaller than this (pixels) are merged into a neighbour</param>
    /// <param name="sigma">the Gaussian blur before the edge weights (0: none)</param>
    public static Result Segment(float[] gray, int width, int height, double k, int minSize, double sigma = 0.8)
    {
        if (gray.Length != width * height)
            throw new ArgumentException($"{gray.Length} intensities for a {width}×{height} image");
        var smooth = sigma > 0 ? Blur(gray, width, height, sigma) : gray;
        var (from, to, weight) = Edges(smooth, width, height);
        var order = Enumerable.Range(0, weight.Length).ToArray();
        Array.Sort((float[])weight.Clone(), order);

        var sets = new DisjointSets(width * height);
        var threshold = new double[width * height];
        Array.Fill(threshold, k);
        foreach (int e in order)
        {
            int a = sets.Find(from[e]),
                b = sets.Find(to[e]);
            if (a == b || weight[e] > threshold[a] || weight[e] > threshold[b])
                continue;
            int root = sets.Union(a, b);
            threshold[root] = weight[e] + k / sets.Size(root);
        }
        foreach (int e in order)
        {
            int a = sets.Find(from[e]),
                b = sets.Find(to[e]);
            if (a != b && (sets.Size(a) < minSize || sets.Size(b) < minSize))
                sets.Union(a, b);
        }
        return Relabel(sets, width, height);
    }

    static Result Relabel(DisjointSets sets, int width, int height)
    {
        var labels = new int[width * height];
        var index = new Dictionary<int, int>();
        for (int p = 0; p < labels.Length; p++)
        {
            int root = sets.Find(p);
            if (!index.TryGetValue(root, out int id))
                index[root] = id = index.Count;
            labels[p] = id;
        }
        return new Result(labels, index.Count, width, height);
    }

    /// <summary>Edges to the right, down, down-right and up-right neighbours (each pair of 8-neighbours
    /// once).</summary>
    static (int[] From, int[] To, float[] Weight) Edges(float[] image, int width, int height)
    {
        var from = new List<int>(width * height * 4);
        var to = new List<int>(width * height * 4);
        var weight = new List<float>(width * height * 4);
        void Add(int p, int q)
        {
            from.Add(p);
            to.Add(q);
            weight.Add(Math.Abs(image[p] - image[q]));
        }
        for (int y = 0; y < height; y++)
        for (int x = 0; x < width; x++)
        {
            int p = y * width + x;
            if (x + 1 < width)
                Add(p, p + 1);
            if (y + 1 < height)
                Add(p, p + width);
            if (x + 1 < width && y + 1 < height)
                Add(p, p + width + 1);
            if (x + 1 < width && y > 0)
                Add(p, p - width + 1);
        }
        return (from.ToArray(), to.ToArray(), weight.ToArray());
    }

    /// <summary>A separable Gaussian blur (radius ⌈4σ⌉, borders clamped).</summary>
    public static float[] Blur(float[] image, int width, int height, double sigma)
    {
        int radius = (int)Math.Ceiling(4 * sigma);
        var kernel = Enumerable.Range(-radius, 2 * radius + 1).Select(i => Math.Exp(-i * i / (2 * sigma * sigma)));
        var weights = kernel.Select(v => (float)v).ToArray();
        float total = weights.Sum();
        for (int i = 0; i < weights.Length; i++)
            weights[i] /= total;
        var rows = new float[image.Length];
        var result = new float[image.Length];
        for (int y = 0; y < height; y++)
        for (int x = 0; x < width; x++)
        {
            float sum = 0;
            for (int i = -radius; i <= radius; i++)
                sum += weights[i + radius] * image[y * width + Math.Clamp(x + i, 0, width - 1)];
            rows[y * width + x] = sum;
        }
        for (int y = 0; y < height; y++)
        for (int x = 0; x < width; x++)
        {
            float sum = 0;
            for (int i = -radius; i <= radius; i++)
                sum += weights[i + radius] * rows[Math.Clamp(y + i, 0, height - 1) * width + x];
            result[y * width + x] = sum;
        }
        return result;
    }

    /// <summary>Union–find with union by size and path halving.</summary>
    sealed class DisjointSets
    {
        readonly int[] _parent;
        readonly int[] _size;

        public DisjointSets(int count)
        {
            _parent = Enumerable.Range(0, count).ToArray();
            _size = Enumerable.Repeat(1, count).ToArray();
        }

        public int Find(int x)
        {
            while (_parent[x] != x)
            {
                _parent[x] = _parent[_parent[x]];
                x = _parent[x];
            }
            return x;
        }

        public int Size(int root) => _size[root];

        /// <summary>Joins two roots; returns the new root.</summary>
        public int Union(int a, int b)
        {
            if (_size[a] < _size[b])
                (a, b) = (b, a);
            _parent[b] = a;
            _size[a] += _size[b];
            return a;
        }
    }
}
