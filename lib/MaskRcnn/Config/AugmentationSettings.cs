namespace MaskRcnn.Config;

/// <summary>
/// How strongly training augments (JSON "training": {"augmentation": {...}}), used when training.augment is true:
/// horizontal flip, scale jitter, brightness and contrast, multiplicative speckle. The defaults are the augmentation
/// every preset has trained with; a sweep can vary each.
/// </summary>
public sealed record AugmentationSettings
{
    public double FlipProbability { get; init; } = 0.5;
    public double MinScale { get; init; } = 0.85;
    public double MaxScale { get; init; } = 1.15;

    /// <summary>Brightness shift up to ± this (images are 0–1).</summary>
    public double Brightness { get; init; } = 0.08;
    public double MinContrast { get; init; } = 0.8;
    public double MaxContrast { get; init; } = 1.2;

    /// <summary>Standard deviation of the multiplicative speckle noise.</summary>
    public double SpeckleSigma { get; init; } = 0.08;

    public IEnumerable<string> Problems()
    {
        const string at = "training.augmentation.";
        if (FlipProbability is < 0 or > 1 || double.IsNaN(FlipProbability))
            yield return $"{at}flip_probability: {FlipProbability} is outside [0, 1]";
        if (!(MinScale > 0 && MinScale <= MaxScale && MaxScale <= 4))
            yield return $"{at}min_scale/max_scale: {MinScale}/{MaxScale} (need 0 < min_scale ≤ max_scale ≤ 4)";
        if (Brightness is < 0 or > 1 || double.IsNaN(Brightness))
            yield return $"{at}brightness: {Brightness} is outside [0, 1]";
        if (!(MinContrast > 0 && MinContrast <= MaxContrast && MaxContrast <= 4))
            yield return $"{at}min_contrast/max_contrast: {MinContrast}/{MaxContrast} (need 0 < min ≤ max ≤ 4)";
        if (SpeckleSigma is < 0 or > 1 || double.IsNaN(SpeckleSigma))
            yield return $"{at}speckle_sigma: {SpeckleSigma} is outside [0, 1]";
    }
}
