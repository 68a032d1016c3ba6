namespace MaskRcnn.Config;

/// <summary>
/// Training hyper-parameters (JSON "training": {...}). Defaults are torchvision's detection reference
/// scaled to 2 images per batch; presets change them.
/// </summary>
public sealed record TrainingSettings
{
    /// <summary>
    /// Seed for weights, sampling, data order and augmentation: the same seed repeats the run bit for bit, in any
    /// process, with the same build, CPU and thread count (libtorch may order float sums differently elsewhere).
    /// </summary>
    public int Seed { get; init; } = 0;
    public int ImagesPerBatch { get; init; } = 2;

    /// <summary>Epochs when no stage schedule is given.</summary>
    public int Epochs { get; init; } = 26;

    /// <summary>Steps per epoch; 0 = one pass over the training set (images / batch).</summary>
    public int StepsPerEpoch { get; init; } = 0;
    public double LearningRate { get; init; } = 0.0025;
    public double Momentum { get; init; } = 0.9;
    public double WeightDecay { get; init; } = 1e-4;

    /// <summary>Linear warm-up from LR × warmup_factor over this many iterations.</summary>
    public int WarmupIters { get; init; } = 200;
    public double WarmupFactor { get; init; } = 0.001;

    /// <summary>"cosine" (to 0 over the whole run) or "step" (× gamma at each milestone, fractions of the
    /// run).</summary>
    public string Schedule { get; init; } = "step";
    public double[] StepMilestones { get; init; } = [16.0 / 26, 22.0 / 26];
    public double Gamma { get; init; } = 0.1;

    /// <summary>Gradient clipping by global norm (matterport's GRADIENT_CLIP_NORM); 0 disables.</summary>
    public double GradClipNorm { get; init; } = 5.0;

    /// <summary>
    /// Stage schedule, matterport style: "heads:10,4+:10,all:10" trains layer groups for that many epochs each;
    /// "GROUP:EPOCHS@LR" sets a stage's learning rate. Empty = one stage "all" for <see cref="Epochs"/> epochs.
    /// </summary>
    public string Stages { get; init; } = "";

    /// <summary>
    /// Where training starts when the command line does not say (<c>train --weights</c> overrides it): "none" (from
    /// scratch), "coco" (torchvision's COCO Mask R-CNN, downloaded once), "imagenet" (ML.NET's ImageNet ResNet-18
    /// backbone, from its NuGet package) or a weights file.
    /// </summary>
    public string StartFrom { get; init; } = "none";

    /// <summary>Data augmentation during training (flip, scale jitter, brightness/contrast, speckle).</summary>
    public bool Augment { get; init; } = true;

    /// <summary>The augmentation's strengths (when <see cref="Augment"/> is on).</summary>
    public AugmentationSettings Augmentation { get; init; } = new();

    /// <summary>Consecutive non-finite losses tolerated (each such step is skipped) before the run stops.</summary>
    public int MaxNonFiniteSteps { get; init; } = 3;

    /// <summary>Log to metrics.jsonl / TensorBoard every this many steps.</summary>
    public int LogEvery { get; init; } = 10;

    /// <summary>Validate (loss and COCO AP on the val split) every this many epochs; 0 = never.</summary>
    public int ValidateEvery { get; init; } = 1;

    /// <summary>Confidence for the clinical metrics (the walkthrough's DETECTION_MIN_CONFIDENCE).</summary>
    public double ClinicalScoreThreshold { get; init; } = 0.9;

    /// <summary>
    /// "fp32" (default) or "bf16" ("float32"/"bfloat16" too, any case): the forward passes of training steps and
    /// validation losses under bfloat16 autocast (mixed precision: weights, gradients, losses and the optimizer stay
    /// float32). Validation AP is computed in float32, as <c>evaluate</c> does by default.
    /// </summary>
    public string Precision { get; init; } = "fp32";

    /// <summary><see cref="Precision"/> parsed.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public Runtime.ComputePrecision ComputePrecision => Runtime.ComputePrecisionNames.Parse(Precision);

    public IEnumerable<string> Problems()
    {
        if (ImagesPerBatch < 1)
            yield return $"training.images_per_batch: {ImagesPerBatch} (must be ≥ 1)";
        if (Epochs < 1 && string.IsNullOrWhiteSpace(Stages))
            yield return $"training.epochs: {Epochs} (must be ≥ 1)";
        if (StepsPerEpoch < 0)
            yield return $"training.steps_per_epoch: {StepsPerEpoch} (must be ≥ 0)";
        if (!(LearningRate > 0) || double.IsInfinity(LearningRate))
            yield return $"training.learning_rate: {LearningRate} (must be > 0)";
        if (Momentum is < 0 or >= 1)
            yield return $"training.momentum: {Momentum} is outside [0, 1)";
        if (WeightDecay < 0)
            yield return $"training.weight_decay: {WeightDecay} (must be ≥ 0)";
        if (WarmupIters < 0)
            yield return $"training.warmup_iters: {WarmupIters} (must be ≥ 0)";
        if (WarmupFactor is <= 0 or > 1)
            yield return $"training.warmup_factor: {WarmupFactor} is outside (0, 1]";
        if (Schedule is not ("cosine" or "step"))
            yield return $"training.schedule: '{Schedule}' (cosine or step)";
        if (StepMilestones.Any(m => m is <= 0 or >= 1))
            yield return "training.step_milestones: fractions of the run in (0, 1)";
        if (Gamma is <= 0 or > 1)
            yield return $"training.gamma: {Gamma} is outside (0, 1]";
        if (GradClipNorm < 0)
            yield return $"training.grad_clip_norm: {GradClipNorm} (must be ≥ 0)";
        if (MaxNonFiniteSteps < 1)
            yield return $"training.max_non_finite_steps: {MaxNonFiniteSteps} (must be ≥ 1)";
        if (ClinicalScoreThreshold is < 0 or > 1)
            yield return $"training.clinical_score_threshold: {ClinicalScoreThreshold} is outside [0, 1]";
        if (string.IsNullOrWhiteSpace(StartFrom))
            yield return "training.start_from: empty (none, coco, imagenet or a weights file)";
        foreach (var p in Augmentation?.Problems() ?? ["training.augmentation: null (omit it for the defaults)"])
            yield return p;
        if (Runtime.ComputePrecisionNames.TryParse(Precision) is null)
            yield return $"training.precision: '{Precision}' (fp32 or bf16)";
        string? stageProblem = null;
        try
        {
            Training.StageSchedule.Parse(Stages, Epochs, LearningRate);
        }
        catch (MaskRcnnException e)
        {
            stageProblem = e.Message;
        }
        if (stageProblem is not null)
            yield return stageProblem;
    }
}
