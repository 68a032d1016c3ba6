using TorchSharp;
using static TorchSharp.torch;

namespace MaskRcnn;

/// <summary>Small conveniences over TorchSharp used across the model code.</summary>
public static class TensorExtensions
{
    /// <summary>Rows [start, end) along dimension 0 (a view).</summary>
    public static Tensor Rows(this Tensor t, long start, long end) => t.narrow(0, start, end - start);

    /// <summary>Values of an integer tensor on the host, flattened (TorchSharp's accessor fails on empty tensors).</summary>
    public static long[] ToLongArray(this Tensor t)
    {
        if (t.numel() == 0) return [];
        using var c = t.cpu().to(int64).contiguous();
        return c.data<long>().ToArray();
    }

    /// <summary>Values of a float tensor on the host, flattened.</summary>
    public static float[] ToFloatArray(this Tensor t)
    {
        if (t.numel() == 0) return [];
        using var c = t.cpu().to(float32).contiguous();
        return c.data<float>().ToArray();
    }
}
