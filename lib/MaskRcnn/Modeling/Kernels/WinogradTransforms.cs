using System.Numerics;
using System.Runtime.CompilerServices;
using TorchSharp;
using static TorchSharp.torch;

namespace MaskRcnn.Modeling.Kernels;

/// <summary>
/// The tile transforms of <see cref="Winograd"/> as CPU loops over channel vectors (System.Numerics.Vector):
/// each reads its input once and writes its output once — the input transform straight from the unpadded
/// channels-last image (zeros outside it), the output transform straight into the channels-last result with the
/// bias added — where the tensor-operation version needs a padded copy, a tile copy, a matrix product, a
/// permuted copy and a cropped copy. Used for float32 CPU tensors whose channel counts are multiples of the
/// vector width; the matrix products between the transforms are oneMKL's (<see cref="MaskRcnn.Runtime.BatchedSgemm"/>).
/// </summary>
static unsafe class WinogradTransforms
{
    const int T = Winograd.Tile,
        P = T + 2;

    /// <summary>Whether the loops run vectorised for this many channels (else use the tensor-operation
    /// transforms).</summary>
    public static bool Supports(long inChannels, long outChannels) =>
        Vector.IsHardwareAccelerated && inChannels % Vector<float>.Count == 0 && outChannels % Vector<float>.Count == 0;

    /// <summary>Where a step's tiles lie: images [Image0, +Images), tile rows [Row0, +Rows), all TilesWide
    /// columns.</summary>
    public readonly record struct Step(long Image0, long Images, long Row0, long Rows, long TilesWide)
    {
        public long Tiles => Images * Rows * TilesWide;
    }

    /// <summary>
    /// v[36, tiles, C] = Bᵀ d B for every 6×6 tile d of the zero-padded input (padding 1), from x: [N, H, W, C]
    /// contiguous (channels-last). Tile (i, r, t) of the step is row i·Rows·TilesWide + r·TilesWide + t.
    /// </summary>
    public static void Input(Tensor xNhwc, Tensor v, Step step)
    {
        long h = xNhwc.shape[1],
            w = xNhwc.shape[2],
            c = xNhwc.shape[3],
            tiles = step.Tiles;
        float* x = Pointer(xNhwc),
            outp = Pointer(v);
        RunRows(step, (image, row) => InputRowOfTiles(x, h, w, c, outp, tiles, step, image, row));
    }

    /// <summary>The input transform of one row of tiles (optimised from the first call: no tiered JIT
    /// warm-up).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void InputRowOfTiles(
        float* x,
        long h,
        long w,
        long c,
        float* outp,
        long tiles,
        Step step,
        long image,
        long row
    )
    {
        var d = stackalloc Vector<float>[P * P];
        for (long col = 0; col < step.TilesWide; col++)
        {
            long tile = ((image - step.Image0) * step.Rows + (row - step.Row0)) * step.TilesWide + col;
            long y0 = T * row - 1,
                x0 = T * col - 1;
            for (long ch = 0; ch < c; ch += Vector<float>.Count)
            {
                for (int i = 0; i < P; i++)
                {
                    long y = y0 + i;
                    bool rowInside = y >= 0 && y < h;
                    for (int j = 0; j < P; j++)
                    {
                        long xx = x0 + j;
                        d[i * P + j] =
                            rowInside && xx >= 0 && xx < w
                                ? Unsafe.ReadUnaligned<Vector<float>>(x + ((image * h + y) * w + xx) * c + ch)
                                : Vector<float>.Zero;
                    }
                    InputRow(d + i * P, 1); // along the tile's columns
                }
                for (int j = 0; j < P; j++)
                    InputRow(d + j, P); // along its rows
                for (int k = 0; k < P * P; k++)
                    Unsafe.WriteUnaligned(outp + (k * tiles + tile) * c + ch, d[k]);
            }
        }
    }

    /// <summary>
    /// y[N, H, W, C_out] (channels-last) = Aᵀ m A + bias for every tile of the step, from m: [36, tiles, C_out];
    /// outputs beyond H or W (the last tiles' overhang) are dropped.
    /// </summary>
    public static void Output(Tensor m, Tensor? bias, Tensor yNhwc, Step step)
    {
        long h = yNhwc.shape[1],
            w = yNhwc.shape[2],
            co = yNhwc.shape[3],
            tiles = step.Tiles;
        float* src = Pointer(m),
            y = Pointer(yNhwc),
            b = bias is null ? null : Pointer(bias);
        RunRows(step, (image, row) => OutputRowOfTiles(src, b, y, h, w, co, tiles, step, image, row));
    }

    /// <summary>The output transform of one row of tiles (optimised from the first call).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void OutputRowOfTiles(
        float* src,
        float* b,
        float* y,
        long h,
        long w,
        long co,
        long tiles,
        Step step,
        long image,
        long row
    )
    {
        var s = stackalloc Vector<float>[P * P];
        for (long col = 0; col < step.TilesWide; col++)
        {
            long tile = ((image - step.Image0) * step.Rows + (row - step.Row0)) * step.TilesWide + col;
            for (long ch = 0; ch < co; ch += Vector<float>.Count)
            {
                for (int k = 0; k < P * P; k++)
                    s[k] = Unsafe.ReadUnaligned<Vector<float>>(src + (k * tiles + tile) * co + ch);
                for (int i = 0; i < P; i++)
                    OutputRow(s + i * P, 1); // 6 rows of 6 -> 6 rows of 4
                for (int q = 0; q < T; q++)
                    OutputRow(s + q, P); // 4 columns of 6 -> 4 columns of 4
                var add = b is null ? Vector<float>.Zero : Unsafe.ReadUnaligned<Vector<float>>(b + ch);
                for (int p = 0; p < T; p++)
                {
                    long yy = T * row + p;
                    if (yy >= h)
                        break;
                    for (int q = 0; q < T; q++)
                    {
                        long xx = T * col + q;
                        if (xx >= w)
                            break;
                        Unsafe.WriteUnaligned(y + ((image * h + yy) * w + xx) * co + ch, s[p * P + q] + add);
                    }
                }
            }
        }
    }

    /// <summary>z ← Bᵀ z for the six vectors z[0], z[stride], …, z[5·stride].</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void InputRow(Vector<float>* z, int stride)
    {
        Vector<float> z0 = z[0],
            z1 = z[stride],
            z2 = z[2 * stride],
            z3 = z[3 * stride],
            z4 = z[4 * stride],
            z5 = z[5 * stride];
        var four = new Vector<float>(4f);
        var five = new Vector<float>(5f);
        var two = new Vector<float>(2f);
        var s12 = z1 + z2;
        var d12 = z1 - z2;
        var d31 = z3 - z1;
        var d42 = z4 - z2;
        z[0] = four * z0 - five * z2 + z4;
        z[stride] = z4 + z3 - four * s12;
        z[2 * stride] = z4 - z3 + four * d12;
        z[3 * stride] = d42 + two * d31;
        z[4 * stride] = d42 - two * d31;
        z[5 * stride] = four * z1 - five * z3 + z5;
    }

    /// <summary>z[0..3] ← Aᵀ z for the six vectors z[0], z[stride], …, z[5·stride].</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void OutputRow(Vector<float>* z, int stride)
    {
        Vector<float> z0 = z[0],
            z1 = z[stride],
            z2 = z[2 * stride],
            z3 = z[3 * stride],
            z4 = z[4 * stride],
            z5 = z[5 * stride];
        var s12 = z1 + z2;
        var d12 = z1 - z2;
        var s34 = z3 + z4;
        var d34 = z3 - z4;
        z[0] = z0 + s12 + s34;
        z[stride] = d12 + new Vector<float>(2f) * d34;
        z[2 * stride] = s12 + new Vector<float>(4f) * s34;
        z[3 * stride] = d12 + new Vector<float>(8f) * d34 + z5;
    }

    /// <summary>
    /// Runs body(image, tile row) for the step's rows on as many .NET threads as libtorch uses: the transforms are
    /// ours, so libtorch's threads do not run them (PERFORMANCE.md, Winograd convolutions).
    /// </summary>
    static void RunRows(Step step, Action<long, long> body)
    {
        long count = step.Images * step.Rows;
        var options = new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, get_num_threads()) };
        Parallel.For(0L, count, options, k => body(step.Image0 + k / step.Rows, step.Row0 + k % step.Rows));
    }

    public static float* Pointer(Tensor t)
    {
        if (t.device_type != DeviceType.CPU || t.dtype != ScalarType.Float32 || !t.is_contiguous())
            throw new ArgumentException("a contiguous float32 CPU tensor is needed");
        fixed (byte* p = t.bytes)
            return (float*)p; // native memory: the address stays valid while t lives
    }
}
