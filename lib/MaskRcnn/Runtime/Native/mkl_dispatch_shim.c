// libmaskrcnn_mkl_dispatch_shim.so — lets oneMKL choose its kernels by what the CPU can do on x86-64 CPUs that
// are not Intel's.
//
// libtorch's CPU build links oneMKL statically (oneMKL 2024.0 in libtorch 2.10) and calls it for dense matrix
// products (nn.Linear, matmul). oneMKL asks mkl_serv_intel_cpu_true() whether the CPU is an Intel one and, when
// it is not, keeps to a generic SGEMM path whatever the CPU supports: on an AMD Zen 5 (AVX-512) the
// box head's 1000×12544×1024 SGEMM runs at ~200 GFLOP/s instead of ~460. libtorch_cpu.so calls that function
// through its PLT, so a definition loaded earlier with RTLD_GLOBAL takes its place. Answering "yes" makes oneMKL
// pick kernels by the CPUID feature flags it checks anyway, as on Intel CPUs; the results are the same sums,
// rounded in another order.
//
// Loaded with RTLD_NOW | RTLD_GLOBAL by MaskRcnn.Runtime.MklDispatch before libtorch, only on x86-64 CPUs that
// are not Intel's and have AVX2 and FMA; MASKRCNN_MKL_DISPATCH=vendor keeps oneMKL's own choice. Rebuild with
// environment/build-shim.sh.
__attribute__((visibility("default"))) int mkl_serv_intel_cpu_true(void)
{
    return 1;
}
