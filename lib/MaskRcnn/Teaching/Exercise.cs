using System.Globalization;

namespace MaskRcnn.Teaching;

/// <summary>
/// Checks a reader's answer to a notebook exercise and says so in one line, without giving the answer away: the
/// exercise cell sets a variable (null until answered), the check cell compares it with the value the notebook
/// computes.
/// </summary>
public static class Exercise
{
    /// <summary>What a check found.</summary>
    public enum Verdict
    {
        NotAnswered,
        Correct,
        NotYet,
    }

    /// <summary>A number, right within <paramref name="tolerance"/> (absolute).</summary>
    public static Verdict Check(double? answer, double expected, double tolerance) =>
        answer is not double a ? Verdict.NotAnswered
        : Math.Abs(a - expected) <= tolerance ? Verdict.Correct
        : Verdict.NotYet;

    /// <summary>A word or phrase, ignoring case and surrounding spaces.</summary>
    public static Verdict Check(string? answer, params string[] accepted) =>
        string.IsNullOrWhiteSpace(answer) ? Verdict.NotAnswered
        : accepted.Any(a => string.Equals(a.Trim(), answer.Trim(), StringComparison.OrdinalIgnoreCase))
            ? Verdict.Correct
        : Verdict.NotYet;

    /// <summary>A yes/no answer.</summary>
    public static Verdict Check(bool? answer, bool expected) =>
        answer is not bool a ? Verdict.NotAnswered
        : a == expected ? Verdict.Correct
        : Verdict.NotYet;

    /// <summary>The line a check cell prints: the exercise, the verdict, and a hint when it is not right yet.</summary>
    public static string Say(string exercise, Verdict verdict, string hint, string variable) =>
        verdict switch
        {
            Verdict.Correct => $"✔ {exercise}: correct.",
            Verdict.NotYet => $"✘ {exercise}: not yet. Hint: {hint}",
            _ => $"… {exercise}: no answer yet — set {variable} in the cell above and run both cells.",
        };

    /// <summary>
    /// The line for a numeric answer: correct within <paramref name="tolerance"/>, or how far off it is — too high or
    /// too low, and by roughly how much (in tens of percent) — without the value itself.
    /// </summary>
    public static string SayNumber(
        string exercise,
        double? answer,
        double expected,
        double tolerance,
        string hint,
        string variable
    )
    {
        var verdict = Check(answer, expected, tolerance);
        if (verdict != Verdict.NotYet)
            return Say(exercise, verdict, hint, variable);
        return Say(exercise, verdict, $"{HowFar(answer!.Value, expected)}. {hint}", variable);
    }

    /// <summary>"too high by about 30 %", rounded to tens of percent (at least 10 %), so the answer stays hidden.</summary>
    public static string HowFar(double answer, double expected)
    {
        string direction = answer > expected ? "too high" : "too low";
        if (expected == 0)
            return direction;
        double off = Math.Abs(answer - expected) / Math.Abs(expected);
        return off >= 10
            ? $"{direction} by more than ten times"
            : $"{direction} by about {Math.Max(10, Math.Round(off * 10) * 10):F0} %";
    }

    /// <summary>Formats a number the way the check compares it (invariant culture).</summary>
    public static string Format(double value) => value.ToString("G6", CultureInfo.InvariantCulture);
}
