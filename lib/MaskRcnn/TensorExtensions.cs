using TorchSharp;
using static TorchSharp.torch;

namespace MaskRcnn;

/// <summary>Small conveniences over TorchSharp used across the model code.</summary>
public static class TensorExtensions
{
    /// <summary>Rows [start, end) along dimension 0 (a view).</summary>
    public static Tensor Rows(this Tensor t, long start, long end) => t.narrow(0, start, end - start);

    /// <summary>Values of a 1-D int64 tensor on the host.</summary>
    public static long[] ToLongArray(this Tensor t) => t.cpu().to(int64).data<long>().ToArray();

    /// <summary>Values of a float tensor on the host, flattened.</summary>
    public static float[] ToFloatArray(this Tensor t) => t.cpu().to(float32).contiguous().data<float>().ToArray();
}
