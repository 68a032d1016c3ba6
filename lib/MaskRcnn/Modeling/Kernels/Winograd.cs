using TorchSharp;
using static TorchSharp.torch;

namespace MaskRcnn.Modeling.Kernels;

/// <summary>
/// 3×3 convolution (stride 1, padding 1) by Winograd's minimal filtering F(4×4, 3×3) (Lavin &amp; Gray, "Fast
/// Algorithms for Convolutional Neural Networks", 2016; interpolation points 0, ±1, ±2, ∞). The input is cut into
/// 6×6 tiles that overlap by 2, each tile and each filter are transformed into 36 "frequencies", and the product
/// becomes 36 independent channel-mixing matrix products (one batched GEMM) followed by a transform back to 4×4
/// outputs per tile: 36 instead of 144 multiply-adds per output and channel pair, 4× less arithmetic than a
/// direct convolution. On CPU float32 tensors whose channel counts are multiples of the vector width the tile
/// transforms are vector loops (<see cref="WinogradTransforms"/>) and the products go through oneMKL into kept
/// buffers; otherwise (other devices and types) all of it is tensor operations: the transforms as matrix products
/// with Bᵀ⊗Bᵀ and Aᵀ⊗Aᵀ plus layout copies, the products as bmm.
/// Results agree with a direct convolution to float rounding, a few times looser (max |error| ~1e-4 against
/// float64 on unit-scale activations where a direct float32 convolution has ~2e-5).
/// libtorch's oneDNN dropped its own Winograd kernels on x86; <see cref="WinogradConv2d"/> decides when to use this.
/// </summary>
public static class Winograd
{
    /// <summary>Output tile side (m of F(m×m, 3×3)); input tiles are m + 2 wide.</summary>
    public const int Tile = 4;
    const int InputTile = Tile + 2,
        Points = InputTile * InputTile;

    /// <summary>Bᵀ (6×6): input tile transform.</summary>
    static readonly double[,] Bt =
    {
        { 4, 0, -5, 0, 1, 0 },
        { 0, -4, -4, 1, 1, 0 },
        { 0, 4, -4, -1, 1, 0 },
        { 0, -2, -1, 2, 1, 0 },
        { 0, 2, -1, -2, 1, 0 },
        { 0, 4, 0, -5, 0, 1 },
    };

    /// <summary>G (6×3): filter transform.</summary>
    static readonly double[,] G =
    {
        { 1 / 4.0, 0, 0 },
        { -1 / 6.0, -1 / 6.0, -1 / 6.0 },
        { -1 / 6.0, 1 / 6.0, -1 / 6.0 },
        { 1 / 24.0, 1 / 12.0, 1 / 6.0 },
        { 1 / 24.0, -1 / 12.0, 1 / 6.0 },
        { 0, 0, 1 },
    };

    /// <summary>Aᵀ (4×6): output tile transform.</summary>
    static readonly double[,] At =
    {
        { 1, 1, 1, 1, 1, 0 },
        { 0, 1, -1, 2, -2, 0 },
        { 0, 1, 1, 4, 4, 0 },
        { 0, 1, -1, 8, -8, 1 },
    };

    /// <summary>The 2-d transform X ↦ M X Mᵀ of a flattened tile as one matrix: M ⊗ M.</summary>
    static Tensor Kron(double[,] m, ScalarType dtype, Device device)
    {
        int r = m.GetLength(0),
            c = m.GetLength(1);
        var k = new double[r * r * c * c];
        for (int i = 0; i < r; i++)
        for (int j = 0; j < r; j++)
        for (int p = 0; p < c; p++)
        for (int q = 0; q < c; q++)
            k[(i * r + j) * c * c + p * c + q] = m[i, p] * m[j, q];
        return tensor(k, new long[] { r * r, c * c }, dtype: float64).to(dtype, device);
    }

    /// <summary>
    /// Transformed filters for <see cref="Convolve"/>: [36, C_in, C_out] from weights [C_out, C_in, 3, 3], returned
    /// in the weights' type; computed in float64 (<paramref name="exact"/>, for filters kept across calls) or in the
    /// weights' own type (a training step's, transformed again at every step: one product of the 36×9 transform
    /// with the weights, float32 rounding on 3–4 terms).
    /// </summary>
    public static Tensor TransformFilter(Tensor weight, bool exact = true)
    {
        if (weight.dim() != 4 || weight.shape[2] != 3 || weight.shape[3] != 3)
            throw new ArgumentException(
                $"Winograd F(4×4, 3×3) needs [C_out, C_in, 3, 3] weights, got [{string.Join(", ", weight.shape)}]"
            );
        using var scope = NewDisposeScope();
        long cout = weight.shape[0],
            cin = weight.shape[1];
        var type = exact ? float64 : weight.dtype;
        var taps = weight.detach().to(type).reshape(cout, cin, 9).permute(2, 1, 0).reshape(9, cin * cout);
        var u = Kron(G, type, weight.device).mm(taps).view(Points, cin, cout);
        return u.to(weight.dtype).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Tiles transformed and multiplied per step: bounds the two step buffers to this × channels × 36 floats each
    /// (4.7 MB for 256 channels), which keeps them in L3; at least one row of tiles per step. The fastest of the sizes
    /// tried (PERFORMANCE.md, Winograd convolutions).
    /// </summary>
    public const long TilesPerStep = 128;

    /// <summary>
    /// Two buffers a convolution's steps write into — the transformed tiles and their products — grown as needed and
    /// kept between calls, so that the steps do not take fresh blocks of glibc's heap. A call takes a pair from the pool
    /// and gives it back (<see cref="Scratch.Rent"/>): there are as many pairs as calls ever ran at once, and
    /// <see cref="ReleaseScratch"/> frees them.
    /// </summary>
    sealed class Scratch : IDisposable
    {
        static readonly System.Collections.Concurrent.ConcurrentBag<Scratch> Pool = [];
        Tensor? _input,
            _product;

        public static Scratch Rent() => Pool.TryTake(out var s) ? s : new Scratch();

        public void Return() => Pool.Add(this);

        /// <summary>The first <paramref name="count"/> floats of the tile buffer.</summary>
        public Tensor Input(long count) => Take(ref _input, count);

        /// <summary>The first <paramref name="count"/> floats of the product buffer.</summary>
        public Tensor Product(long count) => Take(ref _product, count);

        static Tensor Take(ref Tensor? buffer, long count)
        {
            if (buffer is null || buffer.numel() < count)
            {
                buffer?.Dispose();
                buffer = empty(count, dtype: float32).DetachFromDisposeScope();
            }
            return buffer.narrow(0, 0, count);
        }

        /// <summary>Frees the buffers of every pair in the pool (those in use are freed when returned later).</summary>
        public static int ReleasePool()
        {
            int released = 0;
            while (Pool.TryTake(out var s))
            {
                s.Dispose();
                released++;
            }
            return released;
        }

        public void Dispose()
        {
            _input?.Dispose();
            _product?.Dispose();
            (_input, _product) = (null, null);
        }
    }

    /// <summary>
    /// Frees the kept step buffers (a few MB per convolution that ran at the same time as another). The last
    /// <see cref="WinogradConv2d"/> disposed calls it; a later call allocates them again.
    /// </summary>
    /// <returns>how many buffer pairs were freed</returns>
    public static int ReleaseScratch() => Scratch.ReleasePool();

    /// <summary>m[36, tiles, C_out] = v[36, tiles, C] · u[36, C, C_out], by oneMKL into a kept buffer where it
    /// can.</summary>
    static unsafe Tensor Products(Scratch scratch, Tensor v, Tensor u, long tiles, long c, long cout)
    {
        if (!MaskRcnn.Runtime.BatchedSgemm.IsAvailable || !u.is_contiguous())
            return v.bmm(u);
        var m = scratch.Product(Points * tiles * cout).view(Points, tiles, cout);
        MaskRcnn.Runtime.BatchedSgemm.Multiply(
            WinogradTransforms.Pointer(v),
            tiles * c,
            WinogradTransforms.Pointer(u),
            c * cout,
            WinogradTransforms.Pointer(m),
            Points,
            (int)tiles,
            (int)cout,
            (int)c
        );
        return m;
    }

    /// <summary>
    /// y = conv2d(x, weight, bias, stride 1, padding 1) with <paramref name="transformedFilter"/> =
    /// <see cref="TransformFilter"/>(weight). Returns [N, C_out, H, W] stored channels-last.
    /// </summary>
    /// <param name="vectorLoops">false: the tile transforms as tensor operations even where
    /// <see cref="WinogradTransforms"/> could run them (for tests and comparisons)</param>
    public static Tensor Convolve(Tensor x, Tensor transformedFilter, Tensor? bias, bool vectorLoops = true)
    {
        long n = x.shape[0],
            c = x.shape[1],
            h = x.shape[2],
            w = x.shape[3],
            cout = transformedFilter.shape[2];
        if (transformedFilter.shape[1] != c)
            throw new ArgumentException($"input has {c} channels, the filters expect {transformedFilter.shape[1]}");
        long th = (h + Tile - 1) / Tile,
            tw = (w + Tile - 1) / Tile;
        // Steps of whole images, or of rows of tiles within one image when an image has more than TilesPerStep tiles.
        long rowsPerStep = Math.Clamp(TilesPerStep / tw, 1, th);
        long imagesPerStep = rowsPerStep == th ? Math.Max(1, TilesPerStep / (th * tw)) : 1;
        var steps = new List<WinogradTransforms.Step>();
        for (long i = 0; i < n; i += imagesPerStep)
        for (long r = 0; r < th; r += rowsPerStep)
            steps.Add(new(i, Math.Min(imagesPerStep, n - i), r, Math.Min(rowsPerStep, th - r), tw));

        bool loops =
            vectorLoops
            && x.device_type == DeviceType.CPU
            && x.dtype == ScalarType.Float32
            && transformedFilter.dtype == ScalarType.Float32
            && (bias is null || bias.dtype == ScalarType.Float32)
            && WinogradTransforms.Supports(c, cout);
        using var scope = NewDisposeScope();
        var y = loops
            ? ConvolveWithLoops(x, transformedFilter, bias, steps)
            : ConvolveWithTensorOps(x, transformedFilter, bias, steps);
        return y.MoveToOuterDisposeScope();
    }

    /// <summary>The transforms as vector loops: one read of the input, one write of the output (see
    /// WinogradTransforms).</summary>
    static Tensor ConvolveWithLoops(
        Tensor x,
        Tensor transformedFilter,
        Tensor? bias,
        List<WinogradTransforms.Step> steps
    )
    {
        long n = x.shape[0],
            c = x.shape[1],
            h = x.shape[2],
            w = x.shape[3],
            cout = transformedFilter.shape[2];
        var input = x.permute(0, 2, 3, 1).contiguous(); // a view when x is channels-last
        var output = empty(new long[] { n, h, w, cout }, dtype: x.dtype, device: x.device);
        using var b = bias?.detach().contiguous();
        var scratch = Scratch.Rent();
        try
        {
            foreach (var step in steps)
            {
                using var v = scratch.Input(Points * step.Tiles * c).view(Points, step.Tiles, c);
                WinogradTransforms.Input(input, v, step);
                using var m = Products(scratch, v, transformedFilter, step.Tiles, c, cout);
                WinogradTransforms.Output(m, b, output, step);
            }
        }
        finally
        {
            scratch.Return();
        }
        return output.permute(0, 3, 1, 2);
    }

    /// <summary>The same with tensor operations (any device or type): transforms as products with Bᵀ⊗Bᵀ and
    /// Aᵀ⊗Aᵀ.</summary>
    static Tensor ConvolveWithTensorOps(
        Tensor x,
        Tensor transformedFilter,
        Tensor? bias,
        List<WinogradTransforms.Step> steps
    )
    {
        long n = x.shape[0],
            c = x.shape[1],
            h = x.shape[2],
            w = x.shape[3],
            cout = transformedFilter.shape[2];
        long th = (h + Tile - 1) / Tile,
            tw = (w + Tile - 1) / Tile,
            hp = Tile * th + 2,
            wp = Tile * tw + 2;
        // Zero-padded channels-last input [N, Hp, Wp, C]: one pixel of the convolution's padding on the top and left,
        // the rest of the last tiles on the bottom and right.
        var padded = nn.functional.pad(x.permute(0, 2, 3, 1), new long[] { 0, 0, 1, wp - w - 1, 1, hp - h - 1 });
        var full = empty(new long[] { n, Tile * th, Tile * tw, cout }, dtype: x.dtype, device: x.device);
        var tiled = full.view(n, th, Tile, tw, Tile, cout);
        var (bt, at) = (Kron(Bt, x.dtype, x.device), Kron(At, x.dtype, x.device));

        foreach (var step in steps)
        {
            using var scope = NewDisposeScope();
            // Overlapping 6×6 tiles, tile-point-major: [6, 6, images, rows, tw, C] -> [36, tiles·C] (the one copy of
            // the input).
            var d = padded
                .as_strided(
                    new long[] { InputTile, InputTile, step.Images, step.Rows, tw, c },
                    new long[] { wp * c, c, hp * wp * c, Tile * wp * c, Tile * c, 1 },
                    padded.storage_offset() + step.Image0 * hp * wp * c + step.Row0 * Tile * wp * c
                )
                .reshape(Points, step.Tiles * c);
            var v = bt.mm(d).view(Points, step.Tiles, c); // Bᵀ d B for every tile
            var m = v.bmm(transformedFilter); // [36, tiles, C_out]
            var y = at.mm(m.view(Points, -1)).view(Tile, Tile, step.Images, step.Rows, tw, cout); // Aᵀ m A
            tiled
                .narrow(0, step.Image0, step.Images)
                .narrow(1, step.Row0, step.Rows)
                .copy_(y.permute(2, 3, 0, 4, 1, 5));
        }
        padded.Dispose();

        if (full.shape[1] == h && full.shape[2] == w)
            return (bias is null ? full : full.add_(bias)).permute(0, 3, 1, 2);
        var cropped = full.narrow(1, 0, h).narrow(2, 0, w);
        return (bias is null ? cropped.contiguous() : cropped + bias).permute(0, 3, 1, 2); // NHWC-contiguous either way
    }
}
