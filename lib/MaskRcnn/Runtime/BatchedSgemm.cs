using System.Runtime.InteropServices;

namespace MaskRcnn.Runtime;

/// <summary>
/// oneMKL's <c>cblas_sgemm_batch</c>, which libtorch_cpu.so (Linux x86-64 builds) links in and exports: a batch of
/// float32 matrix products written into memory the caller owns. libtorch's <c>bmm</c> allocates its result every
/// call; on this path (<see cref="Modeling.Kernels.Winograd"/>) those blocks, interleaved with oneMKL's own, fragmented
/// glibc's heap until resident memory grew by gigabytes. Not available (null) elsewhere: callers fall back to bmm.
/// </summary>
internal static unsafe class BatchedSgemm
{
    const int RowMajor = 101,
        NoTrans = 111;

    static readonly Lazy<nint> Function = new(() =>
        NativeRuntime.LibTorchExports("cblas_sgemm_batch") is [var f] ? f : 0
    );

    public static bool IsAvailable => Function.Value != 0;

    /// <summary>
    /// For every b &lt; batch: c_b [m × n] = a_b [m × k] · b_b [k × n], all row-major and contiguous, the batch
    /// members <paramref name="aStride"/>, <paramref name="bStride"/> and m·n floats apart.
    /// </summary>
    public static void Multiply(
        float* a,
        long aStride,
        float* b,
        long bStride,
        float* c,
        int batch,
        int m,
        int n,
        int k
    )
    {
        if (Function.Value == 0)
            throw new NotSupportedException("cblas_sgemm_batch was not found in libtorch_cpu.so");
        var aPointers = stackalloc float*[batch];
        var bPointers = stackalloc float*[batch];
        var cPointers = stackalloc float*[batch];
        for (int i = 0; i < batch; i++)
        {
            aPointers[i] = a + i * aStride;
            bPointers[i] = b + i * bStride;
            cPointers[i] = c + (long)i * m * n;
        }
        int transA = NoTrans,
            transB = NoTrans,
            lda = k,
            ldb = n,
            ldc = n,
            groupSize = batch;
        float alpha = 1,
            beta = 0;
        (
            (delegate* unmanaged<
                int,
                int*,
                int*,
                int*,
                int*,
                int*,
                float*,
                float**,
                int*,
                float**,
                int*,
                float*,
                float**,
                int*,
                int,
                int*,
                void>)
                Function.Value
        )(
            RowMajor,
            &transA,
            &transB,
            &m,
            &n,
            &k,
            &alpha,
            aPointers,
            &lda,
            bPointers,
            &ldb,
            &beta,
            cPointers,
            &ldc,
            1,
            &groupSize
        );
    }
}
