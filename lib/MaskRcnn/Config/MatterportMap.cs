namespace MaskRcnn.Config;

/// <summary>One matterport Config attribute and where it lives here.</summary>
/// <param name="Matterport">the attribute in mrcnn/config.py</param>
/// <param name="Ours">the JSON field(s) of <see cref="MaskRcnnConfig"/> (or "—")</param>
/// <param name="Note">how they relate</param>
public sealed record MatterportName(string Matterport, string Ours, string Note);

/// <summary>matterport's configuration names mapped onto ours (torchvision's), and the ones without a
/// counterpart.</summary>
public static class MatterportMap
{
    public static readonly IReadOnlyList<MatterportName> Entries =
    [
        new("BACKBONE", "arch", "\"resnet101\" → resnet101-fpn, \"resnet50\" → resnet50-fpn"),
        new("NUM_CLASSES", "num_classes", "both count the background"),
        new(
            "IMAGE_MIN_DIM / IMAGE_MAX_DIM",
            "min_size / max_size",
            "matterport pads to a square IMAGE_MAX_DIM; we pad to a multiple of size_divisible (32)"
        ),
        new(
            "IMAGE_RESIZE_MODE",
            "—",
            "always torchvision's \"scale short side, cap long side\" (matterport's \"square\" without the square "
                + "padding)"
        ),
        new(
            "MEAN_PIXEL",
            "image_mean, image_std",
            "matterport subtracts 0–255 means only; ours normalise 0–1 images with ImageNet mean/std, except the "
                + "walkthrough and busi, which do as matterport (std 1/255 puts 0–1 pixels on the 0–255 scale, minus "
                + "the ML.NET ResNet-18's means; MatterportWeights.ConfigFor sets matterport's)"
        ),
        new("RPN_ANCHOR_SCALES", "anchor_sizes", "one size per FPN level, same defaults (32 … 512)"),
        new(
            "RPN_ANCHOR_RATIOS",
            "aspect_ratios",
            "per level; note matterport's ratio is width/height, torchvision's height/width (0.5, 1, 2 is symmetric)"
        ),
        new("RPN_ANCHOR_STRIDE", "—", "anchors at every feature cell (stride 1)"),
        new("BACKBONE_STRIDES", "—", "fixed by the FPN: 4, 8, 16, 32, 64"),
        new("RPN_NMS_THRESHOLD", "rpn_nms_thresh", ""),
        new("PRE_NMS_LIMIT", "rpn_pre_nms_top_n_train / _test", "matterport: over all levels; torchvision: per level"),
        new("POST_NMS_ROIS_TRAINING", "rpn_post_nms_top_n_train", ""),
        new("POST_NMS_ROIS_INFERENCE", "rpn_post_nms_top_n_test", ""),
        new(
            "RPN_TRAIN_ANCHORS_PER_IMAGE",
            "rpn_batch_size_per_image",
            "positive fraction 0.5 in both (rpn_positive_fraction)"
        ),
        new(
            "RPN_BBOX_STD_DEV",
            "—",
            "torchvision's RPN uses box-coder weights 1, 1, 1, 1 (matterport divides by 0.1, 0.1, 0.2, 0.2)"
        ),
        new("TRAIN_ROIS_PER_IMAGE", "box_batch_size_per_image", ""),
        new("ROI_POSITIVE_RATIO", "box_positive_fraction", ""),
        new("BBOX_STD_DEV", "bbox_reg_weights", "0.1, 0.1, 0.2, 0.2 ↔ 10, 10, 5, 5 (reciprocals)"),
        new("POOL_SIZE", "box_roi_pool_size", "7"),
        new("MASK_POOL_SIZE", "mask_roi_pool_size", "14"),
        new("MASK_SHAPE", "—", "2 × mask_roi_pool_size (28 × 28)"),
        new(
            "USE_MINI_MASK / MINI_MASK_SHAPE",
            "—",
            "no mini masks: targets are cropped from full-resolution masks by RoIAlign"
        ),
        new("MAX_GT_INSTANCES", "—", "no limit"),
        new(
            "DETECTION_MIN_CONFIDENCE",
            "box_score_thresh",
            "0.9 in the seed preset; the walkthrough preset keeps 0.05 (AP needs low scores) and applies 0.9 as "
                + "training.clinical_score_threshold; torchvision's default 0.05"
        ),
        new("DETECTION_NMS_THRESHOLD", "box_nms_thresh", ""),
        new("DETECTION_MAX_INSTANCES", "box_detections_per_img", ""),
        new("FPN_CLASSIF_FC_LAYERS_SIZE", "representation_size", "1024"),
        new("TOP_DOWN_PYRAMID_SIZE", "fpn_out_channels", "256"),
        new("TRAIN_BN", "frozen_batch_norm", "TRAIN_BN = False ↔ frozen_batch_norm = true"),
        new("LEARNING_RATE", "training.learning_rate", "per stage via training.stages (\"all:10@0.0001\")"),
        new("LEARNING_MOMENTUM", "training.momentum", ""),
        new("WEIGHT_DECAY", "training.weight_decay", "matterport adds L2 to the loss (≈ weight decay)"),
        new("GRADIENT_CLIP_NORM", "training.grad_clip_norm", "5.0"),
        new("IMAGES_PER_GPU × GPU_COUNT", "training.images_per_batch", ""),
        new("STEPS_PER_EPOCH", "training.steps_per_epoch", "0 = one pass over the data"),
        new("VALIDATION_STEPS", "—", "validation uses the whole val split"),
        new("LOSS_WEIGHTS", "—", "Trainer.LossTransform can re-weight losses"),
        new(
            "layers='heads' / '3+' / '4+' / '5+' / 'all'",
            "training.stages",
            "same group names (LayerGroups); stage 2–5 = torchvision layer1–layer4"
        ),
    ];

    public static string ToMarkdown() =>
        "| matterport | ours | note |\n|---|---|---|\n"
        + string.Join("\n", Entries.Select(e => $"| `{e.Matterport}` | `{e.Ours}` | {e.Note} |"));
}
