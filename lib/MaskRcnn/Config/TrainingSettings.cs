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

    /// <summary>The most epochs a run may have (the CLI's --epochs bound), in all its stages together.</summary>
    public const int MaxEpochs = 100_000;

    /// <summary>The most steps an epoch may have (the CLI's --steps-per-epoch bound).</summary>
    public const int MaxStepsPerEpoch = 10_000_000;

    /// <summary>
    /// The most images in one training step: every image of a batch is held at full resolution with its masks and
    /// activations (100000 ran for 11 minutes before the kernel killed it for memory).
    /// </summary>
    public const int MaxImagesPerBatch = 64;

    /// <summary>
    /// Every problem, each naming its field: null values, and the bounds of the CLI's options (epochs 1–100000, steps
    /// 0–10000000) and of the values no option sets (learning rates finite and positive, a batch of at most
    /// <see cref="MaxImagesPerBatch"/> images, log_every ≥ 1, …).
    /// </summary>
    public IEnumerable<string> Problems()
    {
        var nulls = NullFields.Problems(
            ("training.schedule", Schedule),
            ("training.step_milestones", StepMilestones),
            ("training.stages", Stages),
            ("training.start_from", StartFrom),
            ("training.precision", Precision)
        );
        foreach (var problem in nulls)
            yield return problem;
        if (nulls.Count > 0)
            yield break;

        if (ImagesPerBatch is < 1 or > MaxImagesPerBatch)
            yield return $"training.images_per_batch: {ImagesPerBatch} is outside 1..{MaxImagesPerBatch}";
        if ((Epochs < 1 || Epochs > MaxEpochs) && string.IsNullOrWhiteSpace(Stages))
            yield return $"training.epochs: {Epochs} is outside 1..{MaxEpochs}";
        if (StepsPerEpoch is < 0 or > MaxStepsPerEpoch)
            yield return $"training.steps_per_epoch: {StepsPerEpoch} is outside 0..{MaxStepsPerEpoch}";
        if (!(LearningRate > 0 && LearningRate <= MaxLearningRate))
            yield return $"training.learning_rate: {LearningRate} is outside (0, {MaxLearningRate}]";
        if (!(Momentum >= 0 && Momentum < 1))
            yield return $"training.momentum: {Momentum} is outside [0, 1)";
        if (!(WeightDecay >= 0 && WeightDecay <= 1))
            yield return $"training.weight_decay: {WeightDecay} is outside [0, 1]";
        if (WarmupIters is < 0 or > 100_000_000)
            yield return $"training.warmup_iters: {WarmupIters} is outside 0..100000000";
        if (!(WarmupFactor > 0 && WarmupFactor <= 1))
            yield return $"training.warmup_factor: {WarmupFactor} is outside (0, 1]";
        if (Schedule is not ("cosine" or "step"))
            yield return $"training.schedule: '{Schedule}' (cosine or step)";
        if (StepMilestones.Length > 100 || StepMilestones.Any(m => !(m > 0 && m < 1)))
            yield return "training.step_milestones: at most 100 fractions of the run, each in (0, 1)";
        if (!(Gamma > 0 && Gamma <= 1))
            yield return $"training.gamma: {Gamma} is outside (0, 1]";
        if (!(GradClipNorm >= 0 && GradClipNorm <= 1e6))
            yield return $"training.grad_clip_norm: {GradClipNorm} is outside [0, 1000000] (0: no clipping)";
        if (MaxNonFiniteSteps is < 1 or > 1000)
            yield return $"training.max_non_finite_steps: {MaxNonFiniteSteps} is outside 1..1000";
        if (LogEvery is < 1 or > 1_000_000)
            yield return $"training.log_every: {LogEvery} is outside 1..1000000";
        if (ValidateEvery is < 0 or > MaxEpochs)
            yield return $"training.validate_every: {ValidateEvery} is outside 0..{MaxEpochs} (0: never)";
        if (!(ClinicalScoreThreshold >= 0 && ClinicalScoreThreshold <= 1))
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
            Training.StageSchedule.Parse(Stages, Math.Clamp(Epochs, 1, MaxEpochs), LearningRate);
        }
        catch (MaskRcnnException e)
        {
            stageProblem = e.Message;
        }
        if (stageProblem is not null)
            yield return stageProblem;
    }

    /// <summary>The largest learning rate a run or stage may set (SGD diverges long before it).</summary>
    public const double MaxLearningRate = 100;
}
