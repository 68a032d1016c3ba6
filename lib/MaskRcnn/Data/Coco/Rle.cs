using System.Text;
using TorchSharp;
using static TorchSharp.torch;

namespace MaskRcnn.Data.Coco;

/// <summary>A COCO run-length-encoded mask: {"size": [h, w], "counts": ...}.</summary>
/// <param name="Height">mask height</param>
/// <param name="Width">mask width</param>
/// <param name="Counts">run lengths in column-major (Fortran) order, starting with a run of zeros</param>
public sealed record RleMask(int Height, int Width, long[] Counts)
{
    /// <summary>Foreground pixel count.</summary>
    public long Area => Counts.Where((_, i) => i % 2 == 1).Sum();
}

/// <summary>
/// COCO's mask encodings, as pycocotools' maskApi: uncompressed run lengths (column-major, first run is
/// background) and the compressed string form (LEB128-like, 5 bits per character offset by 48, each count
/// after the second stored as the difference to the count two places earlier).
/// </summary>
public static class Rle
{
    /// <summary>Encodes a [H, W] mask (bool or numeric; non-zero = foreground).</summary>
    public static RleMask Encode(Tensor mask)
    {
        if (mask.dim() != 2)
            throw new ArgumentException($"mask must be [H, W], got [{string.Join(", ", mask.shape)}]");
        using var scope = NewDisposeScope();
        int h = (int)mask.shape[0],
            w = (int)mask.shape[1];
        var flat = mask.ne(0).t().reshape(-1).cpu(); // column-major
        long n = flat.shape[0];
        if (n == 0)
            return new RleMask(h, w, []);
        var change = (nonzero(flat[1..].ne(flat[..^1])).view(-1) + 1).ToLongArray();
        bool firstIsForeground = flat[0].item<bool>();
        var counts = new List<long>(change.Length + 2);
        if (firstIsForeground)
            counts.Add(0);
        long previous = 0;
        foreach (var c in change)
        {
            counts.Add(c - previous);
            previous = c;
        }
        counts.Add(n - previous);
        return new RleMask(h, w, counts.ToArray());
    }

    /// <summary>Decodes to a [H, W] bool tensor.</summary>
    public static Tensor Decode(RleMask rle)
    {
        long n = (long)rle.Height * rle.Width;
        if (rle.Counts.Sum() != n)
            throw new InvalidDataException(
                $"RLE counts sum to {rle.Counts.Sum()}, but the mask has {rle.Height}×{rle.Width} = {n} pixels"
            );
        var values = new bool[n];
        long p = 0;
        for (int i = 0; i < rle.Counts.Length; i++)
        {
            if (i % 2 == 1)
                Array.Fill(values, true, (int)p, (int)rle.Counts[i]);
            p += rle.Counts[i];
        }
        using var scope = NewDisposeScope();
        return tensor(values).view(rle.Width, rle.Height).t().contiguous().MoveToOuterDisposeScope();
    }

    /// <summary>pycocotools' rleToString.</summary>
    public static string ToCompressedString(long[] counts)
    {
        var sb = new StringBuilder();
        for (int i = 0; i < counts.Length; i++)
        {
            long x = counts[i];
            if (i > 2)
                x -= counts[i - 2];
            bool more = true;
            while (more)
            {
                long c = x & 0x1f;
                x >>= 5;
                more = (c & 0x10) != 0 ? x != -1 : x != 0;
                if (more)
                    c |= 0x20;
                sb.Append((char)(c + 48));
            }
        }
        return sb.ToString();
    }

    /// <summary>pycocotools' rleFrString.</summary>
    public static long[] FromCompressedString(string s)
    {
        var counts = new List<long>();
        int p = 0;
        while (p < s.Length)
        {
            long x = 0;
            int k = 0;
            bool more = true;
            while (more)
            {
                if (p >= s.Length)
                    throw new InvalidDataException("truncated compressed RLE string");
                long c = s[p] - 48;
                if (c is < 0 or > 63)
                    throw new InvalidDataException($"invalid character '{s[p]}' in compressed RLE string");
                x |= (c & 0x1f) << (5 * k);
                more = (c & 0x20) != 0;
                p++;
                k++;
                if (!more && (c & 0x10) != 0)
                    x |= -1L << (5 * k);
            }
            if (counts.Count > 2)
                x += counts[^2];
            counts.Add(x);
        }
        return counts.ToArray();
    }
}
