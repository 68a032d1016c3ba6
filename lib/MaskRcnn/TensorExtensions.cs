using TorchSharp;
using static TorchSharp.torch;

namespace MaskRcnn;

/// <summary>Small conveniences over TorchSharp used across the model code.</summary>
public static class TensorExtensions
{
    /// <summary>
    /// Moves every tensor to the outer dispose scope (each must belong to the current one), as the records that
    /// stages return do with their fields; returns them as an array.
    /// </summary>
    public static Tensor[] MoveToOuterDisposeScope(this IEnumerable<Tensor> tensors) =>
        tensors.Select(t => t.MoveToOuterDisposeScope()).ToArray();

    /// <summary>Rows [start, end) along dimension 0 (a view).</summary>
    public static Tensor Rows(this Tensor t, long start, long end) => t.narrow(0, start, end - start);

    /// <summary>
    /// The same [N, C, H, W] values stored channels-last (NHWC strides; TorchSharp has no memory_format
    /// argument): oneDNN's preferred layout, which its convolutions run faster on and keep in their outputs
    /// (PERFORMANCE.md). Non-CPU tensors and tensors that are already channels-last are returned as they are.
    /// </summary>
    public static Tensor ChannelsLast(this Tensor t)
    {
        if (t.device_type != DeviceType.CPU || t.dim() != 4 || IsChannelsLast(t))
            return t.alias();
        return t.permute(0, 2, 3, 1).contiguous().permute(0, 3, 1, 2);
    }

    /// <summary>
    /// A bfloat16/float16 tensor converted to float32; any other tensor as it is (an alias). Marks where results
    /// of reduced-precision layers (<see cref="Runtime.ComputePrecision.BFloat16"/>) enter box arithmetic.
    /// </summary>
    public static Tensor FullPrecision(this Tensor t) =>
        t.dtype.FullPrecision() is var full && full != t.dtype ? t.to(full) : t.alias();

    /// <summary>Float32 for bfloat16/float16, the type itself otherwise (the type anchors and boxes are made
    /// in).</summary>
    public static ScalarType FullPrecision(this ScalarType t) =>
        t is ScalarType.BFloat16 or ScalarType.Float16 ? ScalarType.Float32 : t;

    /// <summary>Whether a 4-d tensor is stored NHWC-contiguously.</summary>
    public static bool IsChannelsLast(this Tensor t)
    {
        if (t.dim() != 4)
            return false;
        var (size, stride) = (t.shape, t.stride());
        return stride[1] == 1 && stride[3] == size[1] && stride[2] == size[1] * size[3];
    }

    /// <summary>Values of an integer tensor on the host, flattened (TorchSharp's accessor fails on empty
    /// tensors).</summary>
    public static long[] ToLongArray(this Tensor t)
    {
        if (t.numel() == 0)
            return [];
        using var c = t.cpu().to(int64).contiguous();
        return c.data<long>().ToArray();
    }

    /// <summary>Values of a float tensor on the host, flattened.</summary>
    public static float[] ToFloatArray(this Tensor t)
    {
        if (t.numel() == 0)
            return [];
        using var c = t.cpu().to(float32).contiguous();
        return c.data<float>().ToArray();
    }
}
