using MaskRcnn.Config;
using MaskRcnn.Modeling.Backbone;
using MaskRcnn.Modeling.RoiHeads;
using MaskRcnn.Modeling.Rpn;
using MaskRcnn.Modeling.Transform;

namespace MaskRcnn.Modeling;

/// <summary>
/// How a <see cref="MaskRcnnConfig"/> maps onto the model's parts: every field to its part's setting, by name, in one
/// place (torchvision passes the same values as keyword arguments of maskrcnn_resnet50_fpn).
/// </summary>
public static class ConfigMapping
{
    /// <summary>The input transform: normalise, resize, pad.</summary>
    public static GeneralizedRCNNTransform ToTransform(this MaskRcnnConfig config) =>
        new(
            minSize: config.MinSize,
            maxSize: config.MaxSize,
            imageMean: config.ImageMean,
            imageStd: config.ImageStd,
            sizeDivisible: config.SizeDivisible
        );

    /// <summary>How the backbone normalises: FrozenBatchNorm2d (fixed statistics) or BatchNorm2d.</summary>
    public static NormKind ToNormKind(this MaskRcnnConfig config) =>
        config.FrozenBatchNorm ? NormKind.Frozen : NormKind.Batch;

    /// <summary>The anchors of each FPN level.</summary>
    public static AnchorGenerator ToAnchorGenerator(this MaskRcnnConfig config) =>
        new(sizes: config.AnchorSizes, aspectRatios: config.AspectRatios);

    /// <summary>The region proposal network's settings.</summary>
    public static RpnSettings ToRpnSettings(this MaskRcnnConfig config) =>
        new(
            PreNmsTopNTrain: config.RpnPreNmsTopNTrain,
            PreNmsTopNTest: config.RpnPreNmsTopNTest,
            PostNmsTopNTrain: config.RpnPostNmsTopNTrain,
            PostNmsTopNTest: config.RpnPostNmsTopNTest,
            NmsThresh: config.RpnNmsThresh,
            FgIouThresh: config.RpnFgIouThresh,
            BgIouThresh: config.RpnBgIouThresh,
            BatchSizePerImage: config.RpnBatchSizePerImage,
            PositiveFraction: config.RpnPositiveFraction,
            ScoreThresh: config.RpnScoreThresh
        );

    /// <summary>The RoI heads' settings.</summary>
    public static RoiHeadSettings ToRoiHeadSettings(this MaskRcnnConfig config) =>
        new(
            FgIouThresh: config.BoxFgIouThresh,
            BgIouThresh: config.BoxBgIouThresh,
            BatchSizePerImage: config.BoxBatchSizePerImage,
            PositiveFraction: config.BoxPositiveFraction,
            BboxRegWeights: config.BboxRegWeights,
            ScoreThresh: config.BoxScoreThresh,
            NmsThresh: config.BoxNmsThresh,
            DetectionsPerImg: config.BoxDetectionsPerImg,
            BoxPoolSize: config.BoxRoiPoolSize,
            MaskPoolSize: config.MaskRoiPoolSize,
            SamplingRatio: config.RoiSamplingRatio
        );
}
