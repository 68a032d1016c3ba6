using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace MaskRcnn.Teaching;

/// <summary>
/// Checks a reader's answer to a notebook exercise and says so in one line, without giving the answer away: the
/// exercise cell sets a variable (null until answered), the check cell compares it with a value the notebook
/// computes at run time from the data and the model, or with the hash of a fixed answer
/// (<see cref="Hash"/>), so that no expected answer stands in any cell or output. A wrong number is told how far
/// off it is, in bands coarse enough not to give the answer (<see cref="Distance"/>).
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
        : accepted.Any(a => Normalise(a) == Normalise(answer)) ? Verdict.Correct
        : Verdict.NotYet;

    /// <summary>A yes/no answer.</summary>
    public static Verdict Check(bool? answer, bool expected) =>
        answer is not bool a ? Verdict.NotAnswered
        : a == expected ? Verdict.Correct
        : Verdict.NotYet;

    /// <summary>
    /// An answer (word, phrase, number or true/false) against the <see cref="Hash"/> of the right one, for answers
    /// that cannot be computed from the notebook's data: the check cell holds only the hash.
    /// </summary>
    public static Verdict CheckHash(object? answer, string expectedHash) =>
        answer is null || (answer is string s && string.IsNullOrWhiteSpace(s)) ? Verdict.NotAnswered
        : Hash(answer) == expectedHash ? Verdict.Correct
        : Verdict.NotYet;

    /// <summary>
    /// The first 12 hex digits of the SHA-256 of the answer as <see cref="CheckHash"/> compares it: trimmed and
    /// lower-cased; numbers in invariant culture (G6), true/false as "true"/"false". Exercise authors compute it
    /// once (notebooks/solutions/README.md says how).
    /// </summary>
    public static string Hash(object answer)
    {
        string text = answer switch
        {
            bool b => b ? "true" : "false",
            double d => Format(d),
            float f => Format(f),
            int i => Format(i),
            long l => Format(l),
            _ => Normalise(answer.ToString() ?? ""),
        };
        var digest = SHA256.HashData(Encoding.UTF8.GetBytes(text));
        return Convert.ToHexString(digest)[..12].ToLowerInvariant();
    }

    /// <summary>
    /// How far a number is from the expected one, in words that do not give it away: "close", "too high by
    /// 10–50 %", "about 2–10× too low", … (null when it is right or unanswered).
    /// </summary>
    public static string? Distance(double? answer, double expected, double tolerance)
    {
        if (answer is not double a || Math.Abs(a - expected) <= tolerance)
            return null;
        if (double.IsNaN(a) || double.IsInfinity(a))
            return "your answer is not a finite number";
        if (expected == 0 || Math.Sign(a) != Math.Sign(expected))
            return a > expected ? "your answer is too high" : "your answer is too low";
        double ratio = a / expected;
        string direction = ratio > 1 ? "too high" : "too low";
        double factor = ratio > 1 ? ratio : 1 / ratio;
        return factor switch
        {
            < 1.1 => $"close, but {direction} (within 10 %)",
            < 1.5 => $"{direction} by 10–50 %",
            < 2.5 => $"about 2× {direction}",
            < 10 => $"3–10× {direction}",
            _ => $"more than 10× {direction}",
        };
    }

    /// <summary>The line a check cell prints: the exercise, the verdict, and a hint when it is not right yet.</summary>
    public static string Say(string exercise, Verdict verdict, string hint, string variable) =>
        verdict switch
        {
            Verdict.Correct => $"✔ {exercise}: correct.",
            Verdict.NotYet => $"✘ {exercise}: not yet. Hint: {hint}",
            _ => $"… {exercise}: no answer yet — set {variable} in the cell above and run both cells.",
        };

    /// <summary>A numeric exercise's line: the verdict, how far off a wrong answer is, and the hint.</summary>
    public static string Number(
        string exercise,
        double? answer,
        double expected,
        double tolerance,
        string hint,
        string variable
    )
    {
        var verdict = Check(answer, expected, tolerance);
        string line = Say(exercise, verdict, hint, variable);
        return verdict == Verdict.NotYet
            ? line.Replace(": not yet.", $": not yet ({Distance(answer, expected, tolerance)}).")
            : line;
    }

    /// <summary>An exercise checked against a hash (<see cref="CheckHash"/>): its line.</summary>
    public static string Hashed(string exercise, object? answer, string expectedHash, string hint, string variable) =>
        Say(exercise, CheckHash(answer, expectedHash), hint, variable);

    /// <summary>Formats a number the way the check compares it (invariant culture).</summary>
    public static string Format(double value) => value.ToString("G6", CultureInfo.InvariantCulture);

    static string Normalise(string text) => text.Trim().ToLowerInvariant();
}
