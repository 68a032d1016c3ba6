using MaskRcnn;
using MaskRcnn.Runtime;
using TorchSharp;

namespace MaskRcnn.Tests.Runtime;

public class NativeRuntimeTests
{
    static string LibTorchSharpInPackage()
    {
        return Path.Combine(
            RuntimeOptions.NuGetPackagesFolder,
            "torchsharp",
            "0.107.0",
            "runtimes",
            "linux-x64",
            "native",
            "libLibTorchSharp.so"
        );
    }

    [Fact]
    public void Initialize_is_idempotent_and_reports_what_it_did()
    {
        var first = NativeRuntime.Initialize();
        var second = NativeRuntime.Initialize();
        Assert.Same(first, second);
        Assert.Contains(first.Status, new[] { "applied", "not-needed", "disabled" });
        Assert.Equal("2.10.0.0", torch.__version__);
    }

    [SkippableFact]
    public void Start_up_switches_nnpack_off()
    {
        TorchEnvironment.Initialize();
        Skip.If(Nnpack.IsEnabled() is null, "libtorch's NNPACK switch is not exported here");
        Assert.False(Nnpack.IsEnabled());
    }

    [Fact]
    public void Strided_1x1_convolutions_compute_what_float64_does_on_this_cpu()
    {
        // ResNet-18's layer4 shortcut on the map sizes where oneDNN's AVX-512 kernel erred on a CPU that reports no
        // caches (OneDnnIsa caps oneDNN there), and a ResNet-50 shortcut, channels-last as the backbone runs them.
        TorchEnvironment.Initialize();
        using var scope = torch.NewDisposeScope();
        torch.manual_seed(0);
        foreach (var (cin, cout, size) in new[] { (256, 512, 14), (256, 512, 13), (256, 512, 18), (1024, 2048, 14) })
        {
            var x = torch.randn(1, cin, size, size).relu().ChannelsLast();
            var w = torch.randn(cout, cin, 1, 1) * 0.02;
            var y = torch.nn.functional.conv2d(x, w, strides: [2, 2]);
            var exact = torch.nn.functional.conv2d(x.to(torch.float64), w.to(torch.float64), strides: [2, 2]);
            double worst = ((y.to(torch.float64) - exact).abs().max() / exact.abs().max()).item<double>();
            Assert.True(
                worst < 1e-5,
                $"{cin}→{cout} from {size} px: max relative difference {worst:E2}; {OneDnnIsa.Report}"
            );
        }
    }

    [SkippableFact]
    public void Mkl_dispatch_follows_the_cpu_and_changes_onemkl_s_branch()
    {
        TorchEnvironment.Initialize();
        var report = MklDispatch.Report!;
        Skip.IfNot(
            OperatingSystem.IsLinux() && System.Runtime.Intrinsics.X86.X86Base.IsSupported,
            "oneMKL's dispatch is steered on x86-64 Linux only"
        );
        var (_, ebx, ecx, edx) = System.Runtime.Intrinsics.X86.X86Base.CpuId(0, 0);
        bool intel = (ebx, edx, ecx) == (0x756e6547, 0x49656e69, 0x6c65746e); // "Genu" "ineI" "ntel"
        bool avx2 = System.Runtime.Intrinsics.X86.Avx2.IsSupported && System.Runtime.Intrinsics.X86.Fma.IsSupported;
        string expected =
            intel ? "intel"
            : RuntimeOptions.MklVendorDispatch ? "vendor"
            : avx2 ? "applied"
            : "no-avx2";
        Assert.Equal(expected, report.Status);
        Assert.Equal(expected is "intel" or "applied", MklDispatch.FeatureKernels);
        if (report.Status == "applied")
        {
            Assert.Contains(File.ReadLines("/proc/self/maps"), l => l.EndsWith("/" + MklDispatch.ShimFileName));
            Assert.NotEqual(2, MklDispatch.AutoBranch()); // 2 = MKL_CBWR_COMPATIBLE, what oneMKL picks unsteered
        }
    }

    [SkippableFact]
    public void Output_copy_is_patched()
    {
        var report = NativeRuntime.Initialize();
        Skip.If(report.Status != "applied", "libstdc++ already has GLIBCXX_3.4.32: nothing was patched");
        var output = ElfVersionNeeds.Read(File.ReadAllBytes(report.LibTorchSharp!));
        Assert.Contains(output, r => r.File == "libstdc++.so.6" && r.Version == "GLIBCXX_3.4.32" && r.IsWeak);
    }

    [SkippableFact]
    public void Package_copy_is_untouched()
    {
        NativeRuntime.Initialize();
        string package = LibTorchSharpInPackage();
        Skip.IfNot(
            File.Exists(package),
            $"TorchSharp's package is not restored in {RuntimeOptions.NuGetPackagesFolder}"
        );
        var original = ElfVersionNeeds.Read(File.ReadAllBytes(package));
        Assert.Contains(original, r => r.Version == "GLIBCXX_3.4.32" && !r.IsWeak);
    }

    [Fact]
    public void MarkWeak_sets_only_the_named_requirement()
    {
        string package = LibTorchSharpInPackage();
        if (!File.Exists(package))
            package = NativeRuntime.Initialize().LibTorchSharp!;
        byte[] bytes = File.ReadAllBytes(package);
        var before = ElfVersionNeeds.Read(bytes);
        Assert.Contains(before, r => r.File == "libc.so.6" && r.Version == "GLIBC_2.2.5");

        Assert.True(ElfVersionNeeds.MarkWeak(bytes, "libstdc++.so.6", "GLIBCXX_3.4.32"));
        var after = ElfVersionNeeds.Read(bytes);
        Assert.Equal(before.Count, after.Count);
        for (int i = 0; i < before.Count; i++)
        {
            bool target = before[i].Version == "GLIBCXX_3.4.32";
            Assert.Equal(target || before[i].IsWeak, after[i].IsWeak);
        }
        Assert.False(ElfVersionNeeds.MarkWeak(bytes, "libstdc++.so.6", "GLIBCXX_9.9.99"));
    }

    [Fact]
    public void Non_elf_input_has_no_requirements()
    {
        Assert.Empty(ElfVersionNeeds.Read("not an ELF file at all, just some text"u8.ToArray()));
        Assert.Empty(ElfVersionNeeds.Read(Array.Empty<byte>()));
    }
}
