using System.Text.Json;
using System.Text.Json.Serialization;

namespace MaskRcnn.Config;

/// <summary>
/// Every hyper-parameter of the model, with torchvision's defaults for maskrcnn_resnet50_fpn. JSON names are
/// torchvision's keyword arguments in snake_case (min_size, rpn_nms_thresh, box_score_thresh, …); see
/// docs in lib/README.md for the matterport equivalents.
/// </summary>
public sealed record MaskRcnnConfig
{
    // --- model shape -------------------------------------------------------------------------------
    /// <summary>resnet18-fpn, resnet34-fpn, resnet50-fpn, resnet101-fpn or resnet18-mlnet-fpn.</summary>
    public string Arch { get; init; } = "resnet50-fpn";

    /// <summary>Number of classes including background (COCO: 91; benign/malignant: 3).</summary>
    public int NumClasses { get; init; } = 91;

    /// <summary>Class names, index 0 = background; empty = "class 1", "class 2", …</summary>
    public string[] ClassNames { get; init; } = [];

    /// <summary>Backbone normalisation: true = FrozenBatchNorm2d (fixed statistics), false = BatchNorm2d.</summary>
    public bool FrozenBatchNorm { get; init; } = true;

    /// <summary>0–5: how many ResNet stages train (from layer4 down); torchvision's
    /// trainable_backbone_layers.</summary>
    public int TrainableBackboneLayers { get; init; } = 3;
    public int FpnOutChannels { get; init; } = 256;

    /// <summary>
    /// Bottleneck stride on the first 1×1 conv (original ResNet, Caffe, matterport's Keras model) rather than the
    /// 3×3 (torchvision). Same weights, different features: set it for backbones imported from matterport.
    /// </summary>
    public bool StrideInOneByOne { get; init; } = false;

    /// <summary>Box head hidden size (TwoMLPHead).</summary>
    public int RepresentationSize { get; init; } = 1024;
    public int[] MaskLayers { get; init; } = [256, 256, 256, 256];
    public int MaskDilation { get; init; } = 1;

    // --- transform ---------------------------------------------------------------------------------
    /// <summary>Short-side target(s); in training one is picked at random per image (multi-scale).</summary>
    public int[] MinSize { get; init; } = [800];
    public int MaxSize { get; init; } = 1333;

    /// <summary>
    /// The memory budget of the model's input: min_size and max_size stay at or below this many pixels, so a
    /// resized image is at most 4096 × 4096 (16.8 megapixels). The input alone is then 200 MB in float32 and
    /// R50-FPN's activations a few GB.
    /// </summary>
    public const int MaxImageSide = 4096;
    public double[] ImageMean { get; init; } = [0.485, 0.456, 0.406];
    public double[] ImageStd { get; init; } = [0.229, 0.224, 0.225];
    public int SizeDivisible { get; init; } = 32;

    // --- anchors and RPN ---------------------------------------------------------------------------
    /// <summary>Anchor sizes (pixels, √area) per FPN level '0', '1', '2', '3', 'pool'.</summary>
    public double[][] AnchorSizes { get; init; } =
    [
        [32],
        [64],
        [128],
        [256],
        [512],
    ];

    /// <summary>Aspect ratios (height / width) per level.</summary>
    public double[][] AspectRatios { get; init; } =
    [
        [0.5, 1.0, 2.0],
        [0.5, 1.0, 2.0],
        [0.5, 1.0, 2.0],
        [0.5, 1.0, 2.0],
        [0.5, 1.0, 2.0],
    ];
    public int RpnPreNmsTopNTrain { get; init; } = 2000;
    public int RpnPreNmsTopNTest { get; init; } = 1000;
    public int RpnPostNmsTopNTrain { get; init; } = 2000;
    public int RpnPostNmsTopNTest { get; init; } = 1000;
    public double RpnNmsThresh { get; init; } = 0.7;
    public double RpnFgIouThresh { get; init; } = 0.7;
    public double RpnBgIouThresh { get; init; } = 0.3;
    public int RpnBatchSizePerImage { get; init; } = 256;
    public double RpnPositiveFraction { get; init; } = 0.5;
    public double RpnScoreThresh { get; init; } = 0.0;

    // --- RoI heads ---------------------------------------------------------------------------------
    public double BoxScoreThresh { get; init; } = 0.05;
    public double BoxNmsThresh { get; init; } = 0.5;
    public int BoxDetectionsPerImg { get; init; } = 100;
    public double BoxFgIouThresh { get; init; } = 0.5;
    public double BoxBgIouThresh { get; init; } = 0.5;
    public int BoxBatchSizePerImage { get; init; } = 512;
    public double BoxPositiveFraction { get; init; } = 0.25;
    public double[] BboxRegWeights { get; init; } = [10.0, 10.0, 5.0, 5.0];
    public int BoxRoiPoolSize { get; init; } = 7;
    public int MaskRoiPoolSize { get; init; } = 14;
    public int RoiSamplingRatio { get; init; } = 2;

    /// <summary>Probability at which pasted masks are binarised (prob &gt; threshold).</summary>
    public double MaskThreshold { get; init; } = 0.5;

    /// <summary>Training hyper-parameters.</summary>
    public TrainingSettings Training { get; init; } = new();

    /// <summary>The ResNet depth part of <see cref="Arch"/> ("resnet50").</summary>
    [JsonIgnore]
    public string BackboneDepth => Arch.EndsWith("-fpn") ? Arch[..^4] : Arch;

    /// <summary>
    /// The architectures: torchvision's ResNet-FPNs, and resnet18-mlnet-fpn — ML.NET's ImageNet ResNet-18 (blocks 2, 2,
    /// 2, 3; see <see cref="Modeling.Backbone.ResNetBody.Layouts"/>), the offline pretrained start point (<c>--weights
    /// imagenet</c>).
    /// </summary>
    public static readonly string[] Archs =
    [
        "resnet18-fpn",
        "resnet34-fpn",
        "resnet50-fpn",
        "resnet101-fpn",
        "resnet18-mlnet-fpn",
    ];

    /// <summary>Names for each class index (index 0 = background).</summary>
    public string ClassName(long index) =>
        index >= 0 && index < ClassNames.Length ? ClassNames[index]
        : index == 0 ? "background"
        : $"class {index}";

    public static JsonSerializerOptions JsonOptions { get; } =
        new()
        {
            PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
            WriteIndented = true,
            ReadCommentHandling = JsonCommentHandling.Skip,
            AllowTrailingCommas = true,
            UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
            AllowDuplicateProperties = false,
        };

    public string ToJson() => JsonSerializer.Serialize(this, JsonOptions);

    /// <summary>Parses and validates; errors name the field (a key given twice names it and its line).</summary>
    public static MaskRcnnConfig FromJson(string json, string source = "config")
    {
        MaskRcnnConfig? config;
        try
        {
            config = JsonSerializer.Deserialize<MaskRcnnConfig>(json, JsonOptions);
        }
        catch (JsonException e)
        {
            throw IO.JsonInput.DuplicateKey(json, source, e) ?? new MaskRcnnException($"{source}: {e.Message}", e);
        }
        if (config is null)
            throw new MaskRcnnException($"{source}: empty configuration (null)");
        config.Validate(source);
        return config;
    }

    /// <summary>Reads a configuration file (a regular file of at most <see cref="IO.InputFile.MaxConfigBytes"/>).</summary>
    public static MaskRcnnConfig Load(string path) =>
        FromJson(IO.InputFile.ReadAllText(path, "config file", IO.InputFile.MaxConfigBytes), path);

    /// <summary>Throws <see cref="MaskRcnnException"/> naming every invalid field.</summary>
    public MaskRcnnConfig Validate(string source = "config")
    {
        var errors = Problems().ToList();
        if (errors.Count > 0)
            throw new MaskRcnnException($"{source}: {string.Join("; ", errors)}");
        return this;
    }

    /// <summary>The most classes a model may have (the CLI's --num-classes bound).</summary>
    public const int MaxClasses = 100_000;

    /// <summary>
    /// Every problem found, each naming its field: a null section or list, a value outside the bounds its CLI option
    /// has (sizes 32–4096, fractions in [0, 1]) or a sane range where no option exists (counts that set the size of a
    /// layer or of a step's work), a non-finite number, two class names that are one.
    /// </summary>
    public IEnumerable<string> Problems()
    {
        // JSON null for a section or list: named here rather than met as a crash.
        var nulls = NullFields.Problems(
            ("arch", Arch),
            ("class_names", ClassNames),
            ("mask_layers", MaskLayers),
            ("min_size", MinSize),
            ("image_mean", ImageMean),
            ("image_std", ImageStd),
            ("anchor_sizes", AnchorSizes),
            ("aspect_ratios", AspectRatios),
            ("bbox_reg_weights", BboxRegWeights),
            ("training", Training)
        );
        foreach (var problem in nulls)
            yield return problem;
        if (nulls.Count > 0)
            yield break;
        if (AnchorSizes.Any(l => l is null) || AspectRatios.Any(l => l is null))
        {
            yield return "anchor_sizes/aspect_ratios: a level is null";
            yield break;
        }

        if (!Archs.Contains(Arch))
            yield return $"arch: '{Arch}' is not one of {string.Join(", ", Archs)}";
        if (NumClasses is < 2 or > MaxClasses)
            yield return $"num_classes: {NumClasses} is outside 2..{MaxClasses} (background + at least one class)";
        if (ClassNames.Length != 0 && ClassNames.Length != NumClasses)
            yield return $"class_names: {ClassNames.Length} names for num_classes = {NumClasses}";
        if (ClassNames.Any(n => string.IsNullOrWhiteSpace(n)))
            yield return "class_names: a name is null or empty";
        else if (ClassNames.GroupBy(n => n.Trim().ToLowerInvariant()).FirstOrDefault(g => g.Count() > 1) is { } twice)
            yield return $"class_names: '{twice.First()}' is given {twice.Count()} times (class names must differ)";
        if (TrainableBackboneLayers is < 0 or > 5)
            yield return $"trainable_backbone_layers: {TrainableBackboneLayers} (0..5)";
        if (MinSize.Length == 0 || MinSize.Any(s => s < 32))
            yield return "min_size: needs one or more sizes ≥ 32";
        if (MinSize.Any(s => s > MaxImageSide))
            yield return $"min_size: sizes must be ≤ {MaxImageSide} (the memory budget)";
        if (MinSize.Length > 64)
            yield return $"min_size: {MinSize.Length} sizes (at most 64)";
        if (MaxSize < MinSize.DefaultIfEmpty(0).Max())
            yield return $"max_size: {MaxSize} is below min_size";
        if (MaxSize > MaxImageSide)
            yield return $"max_size: {MaxSize} exceeds {MaxImageSide} (the memory budget)";
        if (ImageMean.Length != 3 || ImageMean.Any(m => !double.IsFinite(m) || Math.Abs(m) > 1000))
            yield return "image_mean: needs 3 finite values (images are scaled to [0, 1])";
        if (ImageStd.Length != 3 || ImageStd.Any(s => !(s >= 1e-4 && s <= 1000)))
            yield return "image_std: needs 3 values in [0.0001, 1000] (images are scaled to [0, 1]; a smaller "
                + "deviation makes every input infinite)";
        if (SizeDivisible is < 1 or > 256)
            yield return $"size_divisible: {SizeDivisible} is outside 1..256";
        if (AnchorSizes.Length != 5)
            yield return $"anchor_sizes: {AnchorSizes.Length} levels, but the FPN has 5 ('0', '1', '2', '3', 'pool')";
        if (AspectRatios.Length != AnchorSizes.Length)
            yield return $"aspect_ratios: {AspectRatios.Length} levels for {AnchorSizes.Length} anchor levels";
        else if (AnchorSizes.Select((s, i) => s.Length * AspectRatios[i].Length).Distinct().Count() > 1)
            yield return "anchor_sizes/aspect_ratios: every level needs the same number of anchors per location (one "
                + "shared RPN head)";
        if (AnchorSizes.Any(l => l.Length is 0 or > 16 || l.Any(s => !(s > 0 && s <= 4 * MaxImageSide))))
            yield return $"anchor_sizes: 1 to 16 sizes per level, each in (0, {4 * MaxImageSide}] px";
        if (AspectRatios.Any(l => l.Length is 0 or > 16 || l.Any(r => !(r >= 1e-3 && r <= 1000))))
            yield return "aspect_ratios: 1 to 16 ratios per level, each in [0.001, 1000]";
        foreach (var (name, value) in Fractions())
            if (!(value >= 0 && value <= 1))
                yield return $"{name}: {value} is outside [0, 1]";
        if (RpnBgIouThresh > RpnFgIouThresh)
            yield return "rpn_bg_iou_thresh: must be ≤ rpn_fg_iou_thresh";
        if (BoxBgIouThresh > BoxFgIouThresh)
            yield return "box_bg_iou_thresh: must be ≤ box_fg_iou_thresh";
        foreach (var (name, value, max) in Counts())
            if (value < 1 || value > max)
                yield return $"{name}: {value} is outside 1..{max}";
        if (RoiSamplingRatio is < -1 or > 32)
            yield return $"roi_sampling_ratio: {RoiSamplingRatio} is outside -1..32 (≤ 0: adaptive)";
        if (MaskDilation is < 1 or > 16)
            yield return $"mask_dilation: {MaskDilation} is outside 1..16";
        if (BboxRegWeights.Length != 4 || BboxRegWeights.Any(w => !(w > 0 && w <= 1000)))
            yield return "bbox_reg_weights: needs 4 values in (0, 1000]";
        if (MaskLayers.Length is 0 or > 16 || MaskLayers.Any(l => l is < 1 or > 4096))
            yield return "mask_layers: 1 to 16 widths, each in 1..4096";
        foreach (var p in Training.Problems())
            yield return p;
    }

    IEnumerable<(string, double)> Fractions() =>
        [
            ("rpn_nms_thresh", RpnNmsThresh),
            ("rpn_fg_iou_thresh", RpnFgIouThresh),
            ("rpn_bg_iou_thresh", RpnBgIouThresh),
            ("rpn_positive_fraction", RpnPositiveFraction),
            ("rpn_score_thresh", RpnScoreThresh),
            ("box_score_thresh", BoxScoreThresh),
            ("box_nms_thresh", BoxNmsThresh),
            ("box_fg_iou_thresh", BoxFgIouThresh),
            ("box_bg_iou_thresh", BoxBgIouThresh),
            ("box_positive_fraction", BoxPositiveFraction),
            ("mask_threshold", MaskThreshold),
        ];

    /// <summary>Counts and their upper bounds: each sets a layer's width or how much work a step does.</summary>
    IEnumerable<(string, int, int)> Counts() =>
        [
            ("rpn_pre_nms_top_n_train", RpnPreNmsTopNTrain, 100_000),
            ("rpn_pre_nms_top_n_test", RpnPreNmsTopNTest, 100_000),
            ("rpn_post_nms_top_n_train", RpnPostNmsTopNTrain, 100_000),
            ("rpn_post_nms_top_n_test", RpnPostNmsTopNTest, 100_000),
            ("rpn_batch_size_per_image", RpnBatchSizePerImage, 100_000),
            ("box_detections_per_img", BoxDetectionsPerImg, 1000),
            ("box_batch_size_per_image", BoxBatchSizePerImage, 100_000),
            ("box_roi_pool_size", BoxRoiPoolSize, 64),
            ("mask_roi_pool_size", MaskRoiPoolSize, 64),
            ("fpn_out_channels", FpnOutChannels, 4096),
            ("representation_size", RepresentationSize, 65_536),
        ];
}
