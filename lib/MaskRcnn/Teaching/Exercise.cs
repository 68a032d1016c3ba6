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

    /// <summary>Formats a number the way the check compares it (invariant culture).</summary>
    public static string Format(double value) => value.ToString("G6", CultureInfo.InvariantCulture);
}
