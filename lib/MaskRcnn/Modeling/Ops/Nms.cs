using System.Numerics;
using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace MaskRcnn.Modeling.Ops;

/// <summary>
/// Non-maximum suppression with torchvision's semantics: boxes in descending score order (stable), a box is
/// dropped when its IoU with a kept, higher-scoring box is strictly greater than the threshold.
/// The IoU test runs as one tensor operation over all pairs; only the greedy scan over the resulting
/// suppression matrix runs on the host, as in torchvision's CUDA kernel.
/// </summary>
public static class Nms
{
    /// <summary>Indices (int64) of the kept boxes, in decreasing score order.</summary>
    public static Tensor Apply(Tensor boxes, Tensor scores, double iouThreshold)
    {
        long n = boxes.shape[0];
        if (n == 0) return empty(0, dtype: int64, device: boxes.device);
        using var scope = NewDisposeScope();
        var order = scores.sort(dim: 0, descending: true, stable: true).Indices;
        var sorted = boxes.index_select(0, order);
        // suppresses[i, j] = 1 when j comes after i and overlaps it too much.
        var suppresses = BoxOps.BoxIou(sorted, sorted).gt(iouThreshold).triu(1).to(ScalarType.Byte).cpu();
        var keepIdx = GreedyScan(suppresses, n);
        return order.index_select(0, tensor(keepIdx, device: boxes.device)).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// NMS within each category of <paramref name="idxs"/> (boxes of different categories never suppress each
    /// other). Kept indices in decreasing score order.
    /// </summary>
    public static Tensor Batched(Tensor boxes, Tensor scores, Tensor idxs, double iouThreshold)
    {
        if (boxes.shape[0] == 0) return empty(0, dtype: int64, device: boxes.device);
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

    static long[] GreedyScan(Tensor suppresses, long n)
    {
        byte[] matrix = suppresses.data<byte>().ToArray(); // row-major [n, n]
        var removed = new byte[n];
        var keep = new List<long>();
        for (long i = 0; i < n; i++)
        {
            if (removed[i] != 0) continue;
            keep.Add(i);
            OrInto(removed, matrix.AsSpan(checked((int)(i * n)), (int)n));
        }
        return keep.ToArray();
    }

    static void OrInto(Span<byte> t, ReadOnlySpan<byte> s)
    {
        int i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            var tv = MemoryMarshal.Cast<byte, Vector<byte>>(t);
            var sv = MemoryMarshal.Cast<byte, Vector<byte>>(s);
            for (int k = 0; k < tv.Length; k++) tv[k] |= sv[k];
            i = tv.Length * Vector<byte>.Count;
        }
        for (; i < t.Length; i++) t[i] |= s[i];
    }
}
