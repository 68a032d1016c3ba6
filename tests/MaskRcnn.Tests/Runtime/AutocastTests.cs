using MaskRcnn.Config;
using MaskRcnn.Modeling;
using MaskRcnn.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace MaskRcnn.Tests.Runtime;

public class AutocastTests
{
    static Tensor Conv(Tensor x, Tensor w) => nn.functional.conv2d(x, w, padding: [1, 1]);

    [SkippableFact]
    public void Scopes_switch_libtorch_s_autocast_on_and_off_and_restore_it()
    {
        TorchEnvironment.Initialize();
        Skip.IfNot(OperatingSystem.IsLinux(), "libtorch's autocast switches are looked up in libtorch_cpu.so (Linux)");
        Assert.True(Autocast.IsAvailable, "libtorch_cpu.so exports at::autocast's switches");
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var x = randn(1, 8, 6, 6);
        var w = randn(8, 8, 3, 3);

        Assert.Equal(ScalarType.Float32, Conv(x, w).dtype);
        using (Autocast.Enter(DeviceType.CPU, ScalarType.BFloat16))
        {
            Assert.True(Autocast.IsEnabled(DeviceType.CPU));
            var y = Conv(x, w);
            Assert.Equal(ScalarType.BFloat16, y.dtype);
            Assert.Equal(ScalarType.BFloat16, (y + 1).dtype); // element-wise ops take what comes
            using (Autocast.Suspend(DeviceType.CPU))
            {
                Assert.False(Autocast.IsEnabled(DeviceType.CPU));
                Assert.Equal(ScalarType.Float32, Conv(x, w).dtype);
            }
            Assert.True(Autocast.IsEnabled(DeviceType.CPU)); // restored after Suspend
            Assert.Equal(ScalarType.BFloat16, Conv(x, w).dtype);
            // What autocast computes is the convolution of the inputs cast to bfloat16.
            var explicitCast = Conv(x.to(ScalarType.BFloat16), w.to(ScalarType.BFloat16));
            Assert.Equal(
                0f,
                (y.to(ScalarType.Float32) - explicitCast.to(ScalarType.Float32)).abs().max().item<float>()
            );
        }
        Assert.False(Autocast.IsEnabled(DeviceType.CPU));
        Assert.Equal(ScalarType.Float32, Conv(x, w).dtype);
        using (Autocast.Suspend(DeviceType.CPU))
            Assert.Equal(ScalarType.Float32, Conv(x, w).dtype); // no-op when off
        Assert.False(Autocast.IsEnabled(DeviceType.CPU));
    }

    [Fact]
    public void Precision_names_parse_and_reject_unknown_values()
    {
        Assert.Equal(ComputePrecision.BFloat16, ComputePrecisionNames.Parse("bf16"));
        Assert.Equal(ComputePrecision.BFloat16, ComputePrecisionNames.Parse("BFloat16"));
        Assert.Equal(ComputePrecision.Float32, ComputePrecisionNames.Parse("fp32"));
        Assert.Equal("bf16", ComputePrecision.BFloat16.ShortName());
        var e = Assert.Throws<ArgumentException>(() => ComputePrecisionNames.Parse("fp16"));
        Assert.Contains("'fp16'", e.Message);
    }

    [SkippableFact]
    public void Bfloat16_inference_runs_the_layers_in_bfloat16_and_keeps_boxes_scores_and_masks_in_float32()
    {
        TorchEnvironment.Initialize();
        Skip.IfNot(Autocast.IsAvailable, "libtorch's autocast functions were not found");
        using var scope = NewDisposeScope();
        manual_seed(3);
        using var model = new MaskRCNN(
            new MaskRcnnConfig
            {
                Arch = "resnet18-fpn",
                NumClasses = 3,
                MinSize = [128],
                MaxSize = 128,
                BoxScoreThresh = 0.0,
                BoxDetectionsPerImg = 20,
            }
        );
        model.eval();
        var image = rand(3, 128, 128);
        using var noGrad = no_grad();
        var (list, _) = model.Preprocess([image]);
        var reference = model.Features(list.Tensors);

        model.Precision = ComputePrecision.BFloat16;
        using (model.PrecisionScope())
        {
            var features = model.Features(list.Tensors);
            Assert.All(features, f => Assert.Equal(ScalarType.BFloat16, f.dtype));
            for (int i = 0; i < features.Length; i++)
            {
                double relative =
                    (features[i].to(ScalarType.Float32) - reference[i]).norm().item<float>()
                    / reference[i].norm().item<float>();
                Assert.True(
                    relative < 0.05,
                    $"level {i}: relative difference {relative:F4} (same network, bfloat16 rounding)"
                );
            }
            var rpn = model.ProposeRegions(list, features);
            // anchors and decoding in float32
            Assert.All(rpn.Proposals, p => Assert.Equal(ScalarType.Float32, p.dtype));
        }
        Assert.False(Autocast.IsEnabled(DeviceType.CPU));

        using var d = model.Predict(image);
        Assert.False(Autocast.IsEnabled(DeviceType.CPU), "Predict leaves autocast as it found it");
        Assert.True(d.Count > 0);
        Assert.Equal(ScalarType.Float32, d.Boxes.dtype);
        Assert.Equal(ScalarType.Float32, d.Scores.dtype);
        Assert.Equal(ScalarType.Float32, d.MaskProbs!.dtype);
        Assert.True(d.Boxes.isfinite().all().item<bool>());

        model.Precision = ComputePrecision.Float32;
        using var again = model.Predict(image);
        Assert.Equal(ScalarType.Float32, model.Features(list.Tensors)[0].dtype);
    }

    [Fact]
    public void A_onednn_cap_below_bf16_makes_bfloat16_emulated()
    {
        Assert.True(Autocast.AllowsBFloat16(null));
        Assert.True(Autocast.AllowsBFloat16("avx512_core_bf16"));
        Assert.True(Autocast.AllowsBFloat16("AVX512_CORE_AMX"));
        Assert.True(Autocast.AllowsBFloat16("ALL"));
        Assert.False(Autocast.AllowsBFloat16("AVX"));
        Assert.False(Autocast.AllowsBFloat16("AVX2"));
        Assert.False(Autocast.AllowsBFloat16("AVX512_CORE_VNNI"));
        // This process's own answer follows its cap: native only where the CPU has the instructions and no cap
        // below them stands.
        Assert.Equal(
            Autocast.CpuHasBFloat16 && Autocast.AllowsBFloat16(Autocast.OneDnnCap),
            Autocast.NativeBFloat16OnCpu
        );
        if (Autocast.IsAvailable && Autocast.CpuHasBFloat16 && !Autocast.NativeBFloat16OnCpu)
            Assert.Contains("capped at", Autocast.Describe());
    }
}
