using System.Numerics;
using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace MaskRcnn.Modeling.Ops;

/// <summary>
/// Non-maximum suppression with torchvision's semantics: boxes in descending score order (stable), a box is
/// dropped when its IoU with a kept, higher-scoring box is strictly greater than the threshold.
/// The IoU tests run as tensor operations on blocks of rows against all later boxes; only the greedy scan over
/// each block's suppression bits runs on the host, as in torchvision's CUDA kernel. Blocks whose rows are all
/// suppressed already are skipped, and memory stays O(block × n) for any number of boxes.
/// </summary>
public static class Nms
{
    /// <summary>Rows of the suppression matrix computed at once (temporaries ~ 40 bytes × this × n).</summary>
    const long RowBlock = 256;

    /// <summary>Indices (int64) of the kept boxes, in decreasing score order.</summary>
    public static Tensor Apply(Tensor boxes, Tensor scores, double iouThreshold)
    {
        long n = boxes.shape[0];
        if (n == 0)
            return empty(0, dtype: int64, device: boxes.device);
        using var scope = NewDisposeScope();
        var order = scores.sort(dim: 0, descending: true, stable: true).Indices;
        var sorted = boxes.index_select(0, order);
        var removed = new byte[n];
        var keep = new List<long>();
        for (long r0 = 0; r0 < n; r0 += RowBlock)
        {
            long r1 = Math.Min(n, r0 + RowBlock);
            if (Array.IndexOf(removed, (byte)0, (int)r0, (int)(r1 - r0)) < 0)
                continue; // every row suppressed
            using var blockScope = NewDisposeScope();
            // block[i − r0, j − r0] = IoU(i, j) > threshold for i in [r0, r1), j in [r0, n)
            var block = BoxOps
                .BoxIou(sorted.Rows(r0, r1), sorted.narrow(0, r0, n - r0))
                .gt(iouThreshold)
                .cpu()
                .contiguous(); // bool: one byte (0 or 1) per element
            ScanBlock(block, r0, r1, n, removed, keep);
        }
        return order.index_select(0, tensor(keep.ToArray(), device: boxes.device)).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// NMS within each category of <paramref name="idxs"/> (boxes of different categories never suppress each
    /// other). Kept indices in decreasing score order.
    /// </summary>
    public static Tensor Batched(Tensor boxes, Tensor scores, Tensor idxs, double iouThreshold)
    {
        if (boxes.shape[0] == 0)
            return empty(0, dtype: int64, device: boxes.device);
        using var scope = NewDisposeScope();
        var keepMask = zeros(scores.shape[0], dtype: @bool, device: boxes.device);
        foreach (long category in idxs.unique().Item1.ToLongArray())
        {
            var members = nonzero(idxs.eq(category)).view(-1);
            var kept = Apply(boxes.index_select(0, members), scores.index_select(0, members), iouThreshold);
            keepMask.index_fill_(0, members.index_select(0, kept), true);
        }
        var keep = nonzero(keepMask).view(-1);
        var byScore = scores.index_select(0, keep).sort(dim: 0, descending: true, stable: true).Indices;
        return keep.index_select(0, byScore).MoveToOuterDisposeScope();
    }

    /// <summary>Greedy scan of rows [r0, r1): a row not yet removed is kept and removes the later boxes it
    /// overlaps.</summary>
    static void ScanBlock(Tensor block, long r0, long r1, long n, byte[] removed, List<long> keep)
    {
        long width = n - r0;
        ReadOnlySpan<byte> bits = block.bytes; // the host tensor's memory, no copy
        for (long i = r0; i < r1; i++)
        {
            if (removed[i] != 0)
                continue;
            keep.Add(i);
            long row = (i - r0) * width,
                after = i - r0 + 1; // columns j > i
            OrInto(removed.AsSpan((int)(i + 1)), bits.Slice((int)(row + after), (int)(width - after)));
        }
    }

    static void OrInto(Span<byte> t, ReadOnlySpan<byte> s)
    {
        int i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            var tv = MemoryMarshal.Cast<byte, Vector<byte>>(t);
            var sv = MemoryMarshal.Cast<byte, Vector<byte>>(s);
            for (int k = 0; k < tv.Length; k++)
                tv[k] |= sv[k];
            i = tv.Length * Vector<byte>.Count;
        }
        for (; i < t.Length; i++)
            t[i] |= s[i];
    }
}
