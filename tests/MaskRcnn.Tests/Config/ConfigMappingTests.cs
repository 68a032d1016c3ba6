using MaskRcnn.Config;
using MaskRcnn.Modeling;

namespace MaskRcnn.Tests.Config;

public class ConfigMappingTests
{
    /// <summary>Each field set to a value no other field has: a swapped pair would show.</summary>
    static readonly MaskRcnnConfig Distinct = new()
    {
        RpnPreNmsTopNTrain = 2001,
        RpnPreNmsTopNTest = 1001,
        RpnPostNmsTopNTrain = 2002,
        RpnPostNmsTopNTest = 1002,
        RpnNmsThresh = 0.71,
        RpnFgIouThresh = 0.72,
        RpnBgIouThresh = 0.31,
        RpnBatchSizePerImage = 257,
        RpnPositiveFraction = 0.51,
        RpnScoreThresh = 0.01,
        BoxFgIouThresh = 0.52,
        BoxBgIouThresh = 0.49,
        BoxBatchSizePerImage = 513,
        BoxPositiveFraction = 0.26,
        BboxRegWeights = [11, 12, 6, 7],
        BoxScoreThresh = 0.06,
        BoxNmsThresh = 0.53,
        BoxDetectionsPerImg = 101,
        BoxRoiPoolSize = 8,
        MaskRoiPoolSize = 15,
        RoiSamplingRatio = 3,
        MinSize = [801, 802],
        MaxSize = 1334,
        ImageMean = [0.1, 0.2, 0.3],
        ImageStd = [0.4, 0.5, 0.6],
        SizeDivisible = 33,
    };

    [Fact]
    public void Rpn_settings_take_each_field_by_name()
    {
        var s = Distinct.ToRpnSettings();
        Assert.Equal(
            (2001, 1001, 2002, 1002),
            (s.PreNmsTopNTrain, s.PreNmsTopNTest, s.PostNmsTopNTrain, s.PostNmsTopNTest)
        );
        Assert.Equal((0.71, 0.72, 0.31), (s.NmsThresh, s.FgIouThresh, s.BgIouThresh));
        Assert.Equal((257, 0.51, 0.01), (s.BatchSizePerImage, s.PositiveFraction, s.ScoreThresh));
    }

    [Fact]
    public void RoI_head_settings_take_each_field_by_name()
    {
        var s = Distinct.ToRoiHeadSettings();
        Assert.Equal((0.52, 0.49, 513, 0.26), (s.FgIouThresh, s.BgIouThresh, s.BatchSizePerImage, s.PositiveFraction));
        Assert.Equal([11.0, 12, 6, 7], s.RegWeights);
        Assert.Equal((0.06, 0.53, 101), (s.ScoreThresh, s.NmsThresh, s.DetectionsPerImg));
        Assert.Equal((8, 15, 3), (s.BoxPoolSize, s.MaskPoolSize, s.SamplingRatio));
    }

    [Fact]
    public void Transform_takes_each_field_by_name()
    {
        var t = Distinct.ToTransform();
        Assert.Equal([801, 802], t.MinSize);
        Assert.Equal((1334, 33), (t.MaxSize, t.SizeDivisible));
        Assert.Equal([0.1, 0.2, 0.3], t.ImageMean);
        Assert.Equal([0.4, 0.5, 0.6], t.ImageStd);
    }
}
