using MaskRcnn.Modeling.Rpn;
using MaskRcnn.Modeling.Utils;
using TorchSharp;
using static MaskRcnn.Tests.Fixtures;
using static TorchSharp.torch;

namespace MaskRcnn.Tests.Modeling;

public class AnchorsAndCoderTests
{
    const string F = "anchors_coder.pt";
    static readonly double[] Ratios = [0.5, 1.0, 2.0];

    [Fact]
    public void Fpn_anchors_match_torchvision()
    {
        using var scope = NewDisposeScope();
        var gen = new AnchorGenerator(
            [
                [32],
                [64],
                [128],
                [256],
                [512],
            ],
            [Ratios, Ratios, Ratios, Ratios, Ratios]
        );
        for (int i = 0; i < 5; i++)
            AssertEqual(Get(F, $"anchors.cell.{i}"), gen.CellAnchors[i], $"cell anchors {i}");
        var (anchors, perLevel) = gen.Forward(
            (224, 320),
            [(56, 80), (28, 40), (14, 20), (7, 10), (4, 5)],
            float32,
            CPU
        );
        AssertEqual(Get(F, "anchors.fpn"), anchors, "anchors");
        Assert.Equal(new long[] { 56 * 80 * 3, 28 * 40 * 3, 14 * 20 * 3, 7 * 10 * 3, 4 * 5 * 3 }, perLevel);
        Assert.Equal(new[] { 3, 3, 3, 3, 3 }, gen.NumAnchorsPerLocation);
    }

    [Fact]
    public void Several_sizes_and_ratios_per_level_match_torchvision()
    {
        using var scope = NewDisposeScope();
        var gen = new AnchorGenerator(
            [
                [16, 40, 100],
            ],
            [
                [0.25, 0.7, 1.0, 3.0],
            ]
        );
        var (anchors, _) = gen.Forward((64, 96), [(8, 12)], float32, CPU);
        AssertEqual(Get(F, "anchors.multi"), anchors, "anchors");
    }

    [Fact]
    public void Mismatched_levels_are_rejected()
    {
        Assert.Throws<ArgumentException>(() =>
            new AnchorGenerator(
                [
                    [32],
                    [64],
                ],
                [Ratios]
            )
        );
    }

    [Theory]
    [InlineData("rpn", 1, 1, 1, 1)]
    [InlineData("roi", 10, 10, 5, 5)]
    public void Box_coder_matches_torchvision(string name, double wx, double wy, double ww, double wh)
    {
        using var scope = NewDisposeScope();
        var coder = new BoxCoder([wx, wy, ww, wh]);
        AssertClose(
            Get(F, $"coder.encode.{name}"),
            coder.Encode(Get(F, "coder.gt"), Get(F, "coder.proposals")),
            1e-6,
            "encode"
        );
        var decoded = coder.Decode(Get(F, "coder.codes"), Get(F, "coder.proposals"));
        AssertClose(Get(F, $"coder.decode.{name}"), decoded, 1e-3, "decode"); // pixels; exp() amplifies ulps
        Assert.True(decoded.isfinite().all().item<bool>(), "decoded boxes must stay finite (log-clamp)");
    }

    [Fact]
    public void Encode_then_decode_is_identity()
    {
        using var scope = NewDisposeScope();
        var coder = new BoxCoder([10, 10, 5, 5]);
        var gt = Get(F, "coder.gt");
        var proposals = Get(F, "coder.proposals");
        AssertClose(gt, coder.DecodeSingle(coder.Encode(gt, proposals), proposals), 1e-3, "round trip");
    }

    [Fact]
    public void Matcher_matches_torchvision_with_and_without_low_quality_matches()
    {
        using var scope = NewDisposeScope();
        var iou = Get(F, "matcher.iou");
        AssertEqual(Get(F, "matcher.rpn"), new Matcher(0.7, 0.3, true).Match(iou), "rpn matcher");
        AssertEqual(Get(F, "matcher.roi"), new Matcher(0.5, 0.5, false).Match(iou), "roi matcher");
    }

    [Fact]
    public void Sampler_respects_batch_size_and_positive_fraction()
    {
        using var scope = NewDisposeScope();
        manual_seed(0);
        var labels = cat([full(10, 1L), full(500, 0L), full(30, -1L), full(100, 2L)]);
        var sampler = new BalancedPositiveNegativeSampler(256, 0.25);
        var (pos, neg) = sampler.Sample([labels]);
        Assert.Equal(64, pos[0].sum().item<long>());
        Assert.Equal(192, neg[0].sum().item<long>());
        Assert.True(labels.masked_select(pos[0]).ge(1).all().item<bool>());
        Assert.True(labels.masked_select(neg[0]).eq(0).all().item<bool>());
        // Too few positives: all of them, negatives fill the batch.
        var few = cat([full(5, 1L), full(500, 0L)]);
        (pos, neg) = sampler.Sample([few]);
        Assert.Equal(5, pos[0].sum().item<long>());
        Assert.Equal(251, neg[0].sum().item<long>());
    }
}
