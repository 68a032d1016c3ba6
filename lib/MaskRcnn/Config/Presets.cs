namespace MaskRcnn.Config;

/// <summary>
/// Named starting configurations. Each is a complete <see cref="MaskRcnnConfig"/>; change any field after.
/// <list type="table">
/// <item><term>torchvision</term><description>torchvision's maskrcnn_resnet50_fpn defaults (91 COCO classes), its
/// reference training recipe at 2 images per batch.</description></item>
/// <item><term>seed</term><description>the walkthrough this project follows: matterport's Mask R-CNN on breast
/// ultrasound — ResNet-101-FPN, 3 classes incl. background, detection confidence 0.9, matterport's RPN/RoI settings,
/// heads then deeper layers from COCO weights.</description></item>
/// <item><term>cpu-quick</term><description>small enough to train from scratch on a 2-core CPU in minutes:
/// ResNet-18-FPN with 128-channel FPN, 256-px images, trainable BatchNorm, fewer proposals and
/// RoIs.</description></item>
/// <item><term>walkthrough</term><description>the walkthrough's recipe, offline: an ImageNet-pretrained backbone
/// (ML.NET's ResNet-18, <c>--weights imagenet</c>) with frozen BatchNorm, fine-tuned in stages heads → 4+ → all, at
/// cpu-quick's sizes.</description></item>
/// <item><term>busi</term><description>the walkthrough's recipe for BUSI-like scans: 384-px input, anchors fitted to
/// small lesions, a longer staged schedule (found with <c>maskrcnn sweep</c>; see <see cref="Busi"/>).</description></item>
/// </list>
/// </summary>
public static class Presets
{
    public static readonly string[] Names = ["torchvision", "seed", "cpu-quick", "walkthrough", "busi"];

    /// <summary>Benign and malignant lesions (index 0 = background).</summary>
    public static readonly string[] LesionClasses = ["background", "benign", "malignant"];

    public static MaskRcnnConfig Get(string name) =>
        name switch
        {
            "torchvision" => Torchvision(),
            "seed" => Seed(),
            "cpu-quick" => CpuQuick(),
            "walkthrough" => Walkthrough(),
            "busi" => Busi(),
            _ => throw new MaskRcnnException($"unknown preset '{name}' (use {string.Join(", ", Names)})"),
        };

    /// <summary>torchvision's defaults; training as its detection reference (lr 0.02 for 16 images → 0.0025 for 2; 26
    /// epochs, steps at 16 and 22).</summary>
    public static MaskRcnnConfig Torchvision() => new();

    /// <summary>
    /// The walkthrough (matterport config values): BACKBONE resnet101, NUM_CLASSES 3, IMAGE_MIN_DIM 800 /
    /// IMAGE_MAX_DIM 1024, RPN_ANCHOR_SCALES 32…512 with ratios 0.5/1/2, RPN_NMS_THRESHOLD 0.7, PRE_NMS_LIMIT 6000,
    /// POST_NMS_ROIS_TRAINING 2000 / INFERENCE 1000, RPN_TRAIN_ANCHORS_PER_IMAGE 256, TRAIN_ROIS_PER_IMAGE 200,
    /// ROI_POSITIVE_RATIO 0.33, DETECTION_MIN_CONFIDENCE 0.9, DETECTION_NMS_THRESHOLD 0.3, DETECTION_MAX_INSTANCES 100,
    /// LEARNING_RATE 0.001, LEARNING_MOMENTUM 0.9, WEIGHT_DECAY 0.0001, GRADIENT_CLIP_NORM 5.0, TRAIN_BN False,
    /// 30 epochs × 51 steps as heads → 4+ → all, from COCO weights.
    /// </summary>
    public static MaskRcnnConfig Seed() =>
        new()
        {
            Arch = "resnet101-fpn",
            NumClasses = 3,
            ClassNames = LesionClasses,
            FrozenBatchNorm = true,
            TrainableBackboneLayers = 5,
            MinSize = [800],
            MaxSize = 1024,
            RpnPreNmsTopNTrain = 6000,
            RpnPreNmsTopNTest = 6000,
            RpnPostNmsTopNTrain = 2000,
            RpnPostNmsTopNTest = 1000,
            RpnNmsThresh = 0.7,
            RpnBatchSizePerImage = 256,
            BoxBatchSizePerImage = 200,
            BoxPositiveFraction = 0.33,
            BoxScoreThresh = 0.9,
            BoxNmsThresh = 0.3,
            BoxDetectionsPerImg = 100,
            Training = new TrainingSettings
            {
                LearningRate = 0.001,
                Momentum = 0.9,
                WeightDecay = 1e-4,
                GradClipNorm = 5.0,
                ImagesPerBatch = 1,
                StepsPerEpoch = 51,
                Stages = "heads:10,4+:10,all:10@0.0001",
                Epochs = 30, // the stages' sum (matterport's 30 epochs), so that config.json and 03's table agree
                Schedule = "step",
                StepMilestones = [0.999],
                WarmupIters = 0,
                ClinicalScoreThreshold = 0.9,
            },
        };

    /// <summary>
    /// The walkthrough's recipe without downloads: ML.NET's ImageNet ResNet-18 (the only pretrained weights reachable
    /// offline; <see cref="TrainingSettings.StartFrom"/> = "imagenet") with BatchNorm frozen as the seed has it,
    /// trained matterport-style — heads with the backbone frozen, then 4+, then all — at cpu-quick's sizes, 3 classes
    /// and the seed's clinical threshold of 0.9. Its input normalisation is the network's own (0–255 scale minus the
    /// ImageNet channel means). The schedule (2 + 4 + 6 epochs) and the 64 sampled RoIs per image are the best of the
    /// recipes measured against training from scratch and shorter or unstaged schedules (README, "Recipes").
    /// Validation (about 11 s for the 40 validation images on 2 cores) runs at the end of <c>4+</c> and of
    /// <c>all</c>: validating every second epoch, as before, cost ~45 s more of a 7-minute run, and how often a run
    /// validates changes no weight.
    /// </summary>
    public static MaskRcnnConfig Walkthrough() =>
        CpuQuick() with
        {
            Arch = "resnet18-mlnet-fpn",
            FrozenBatchNorm = true,
            BoxBatchSizePerImage = 64,
            ImageMean = [123.152 / 255, 115.903 / 255, 103.063 / 255],
            ImageStd = [1 / 255.0, 1 / 255.0, 1 / 255.0],
            Training = CpuQuick().Training with
            {
                StartFrom = "imagenet",
                Stages = "heads:2,4+:4,all:6",
                Epochs = 12, // the stages' sum, so that config.json and 03's preset table agree with the schedule
                LearningRate = 0.02,
                WarmupIters = 50,
                ValidateEvery = 6,
            },
        };

    /// <summary>
    /// The walkthrough's recipe with torchvision's COCO weights (downloaded once; notebook 04's online option): the
    /// seed's settings on torchvision's ResNet-50-FPN at 512 px, the model's score threshold at 0.05 for AP, two images
    /// per step and a learning rate for that batch. Not among <see cref="Names"/>: it needs the download.
    /// </summary>
    public static MaskRcnnConfig CocoWalkthrough() =>
        Seed() with
        {
            Arch = "resnet50-fpn",
            MinSize = [512],
            MaxSize = 512,
            BoxScoreThresh = 0.05,
            Training = Seed().Training with
            {
                StartFrom = "coco",
                StepsPerEpoch = 60,
                ImagesPerBatch = 2,
                LearningRate = 0.005,
            },
        };

    /// <summary>
    /// The walkthrough's recipe for BUSI-like scans (<c>generate-phantoms --difficulty busi</c>: 440–650-px scans whose
    /// lesions are 5–24 % of the scan wide): the same ImageNet start, frozen BatchNorm and stages, with
    /// <list type="bullet">
    /// <item>384-px input instead of 256: at 256 a lesion 5 % of a 520-px scan wide is 13 px, under the smallest
    /// anchor (16 px), and a sixth of the lesions were;</item>
    /// <item>anchors fitted to the lesions after that resize (<c>inspect-data --config C --suggest-anchors</c> on the
    /// tuning seed's training split): two sizes a level from 21 px, half an octave apart, ratios h/w 0.6 / 0.85 / 1.2
    /// — 95 % of the lesions get an anchor at the RPN's IoU 0.7, against 37 % with 16…256 at ratios 0.5 / 1 / 2;</item>
    /// <item>14 epochs as heads 2, 4+ 4, all 8 (the walkthrough's shares, longer): about 11 minutes of training steps
    /// on 2 CPU cores at this size; validation at epochs 7 and 14.</item>
    /// </list>
    /// Found with <c>maskrcnn sweep</c> (<c>environment/sweeps/busi-recipe.json</c>: eight recipes — 256 / 384 / 512
    /// px, default or fitted anchors, staged, all layers from the start, heads then all, from scratch — two epochs
    /// each, the best third promoted to six) on phantoms of seed 101, ranked on its validation split only. The fitted
    /// 384-px staged recipe led at two epochs and at six; 512 px and every unstaged recipe had found nothing after two
    /// epochs. Test numbers on unseen seeds, the frontier of quality against training time and the classification
    /// ceiling of these phantoms: README, "A recipe for BUSI-like scans".
    /// </summary>
    public static MaskRcnnConfig Busi() =>
        Walkthrough() with
        {
            MinSize = [384],
            MaxSize = 384,
            AnchorSizes =
            [
                [21, 30],
                [42, 59],
                [84, 119],
                [168, 238],
                [336, 475],
            ],
            AspectRatios =
            [
                [0.6, 0.85, 1.2],
                [0.6, 0.85, 1.2],
                [0.6, 0.85, 1.2],
                [0.6, 0.85, 1.2],
                [0.6, 0.85, 1.2],
            ],
            Training = Walkthrough().Training with
            {
                Stages = "heads:2,4+:4,all:8",
                Epochs = 14, // the stages' sum, as the walkthrough's
                ValidateEvery = 7,
            },
        };

    /// <summary>Trains from scratch on the bundled 256-px phantoms in about a quarter of an hour on 2 CPU
    /// cores.</summary>
    public static MaskRcnnConfig CpuQuick() =>
        new()
        {
            Arch = "resnet18-fpn",
            NumClasses = 3,
            ClassNames = LesionClasses,
            FrozenBatchNorm = false,
            TrainableBackboneLayers = 5,
            FpnOutChannels = 128,
            RepresentationSize = 512,
            MaskLayers = [128, 128, 128, 128],
            MinSize = [256],
            MaxSize = 256,
            AnchorSizes =
            [
                [16],
                [32],
                [64],
                [128],
                [256],
            ],
            RpnPreNmsTopNTrain = 1000,
            RpnPostNmsTopNTrain = 500,
            RpnPreNmsTopNTest = 500,
            RpnPostNmsTopNTest = 300,
            BoxBatchSizePerImage = 128,
            BoxDetectionsPerImg = 20,
            Training = new TrainingSettings
            {
                LearningRate = 0.02,
                Momentum = 0.9,
                WeightDecay = 1e-4,
                ImagesPerBatch = 2,
                Epochs = 24,
                Schedule = "cosine",
                WarmupIters = 200,
                GradClipNorm = 5.0,
                ValidateEvery = 4,
                ClinicalScoreThreshold = 0.9,
            },
        };
}
