namespace MaskRcnn.Teaching;

/// <summary>Small formulas the exercises check against, computed rather than written out.</summary>
public static class ClinicalMath
{
    /// <summary>Dice of two masks of <paramref name="a"/> and <paramref name="b"/> pixels overlapping in
    /// <paramref name="overlap"/>.</summary>
    public static double Dice(double a, double b, double overlap) => a + b == 0 ? double.NaN : 2 * overlap / (a + b);
}

/// <summary>
/// Notebook 06's exercise: choose the highest confidence threshold (a multiple of 0.05) at which the model reaches
/// a target sensitivity on the validation split. The check evaluates the reader's threshold and says whether it
/// reaches the target and whether a higher one would too — without naming the right one.
/// </summary>
public static class ThresholdChoice
{
    public static string Check(string exercise, TestEvaluation validation, double? threshold, double target)
    {
        if (threshold is not double t)
            return $"… {exercise}: no answer yet — set threshold in the cell above and run both cells.";
        if (!(t > 0 && t < 1))
            return $"✘ {exercise}: not yet — a threshold lies between 0 and 1.";
        var sweep = validation.Sweep();
        var reaching = sweep.Where(s => s.Sensitivity >= target).Select(s => s.ScoreThreshold).ToList();
        double? mine = validation.At(t).Sensitivity;
        if (mine is not double sensitivity)
            return $"… {exercise}: the validation split has no lesion to measure sensitivity on (undefined).";
        string measured = $"validation sensitivity at {t:0.###}: {sensitivity:F3}";
        if (reaching.Count == 0)
            return $"✔ {exercise}: {measured} — and no threshold from 0.05 to 0.95 reaches {target} with this model "
                + "on this split: the model, not the threshold, must improve.";
        if (sensitivity < target)
            return $"✘ {exercise}: not yet ({measured}, below {target}). Hint: a lower threshold keeps more detections.";
        if (reaching.Max() > t + 1e-9)
            return $"✘ {exercise}: not yet ({measured}) — a higher threshold reaches {target} too, with fewer false "
                + "alarms. Hint: move it up in steps of 0.05.";
        return $"✔ {exercise}: correct ({measured}, false positives per image {validation.At(t).FpPerImage:F3}).";
    }
}
