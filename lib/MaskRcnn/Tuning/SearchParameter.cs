using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using MaskRcnn.Data.Phantoms;

namespace MaskRcnn.Tuning;

/// <summary>
/// One entry of a search space's "params": a configuration field path (snake_case, "training." for training
/// settings: <c>training.learning_rate</c>) or the name of a group, and how a trial draws its value.
/// <list type="bullet">
/// <item><c>{"choice": [v1, v2, …], "labels": ["name1", …]}</c>: one of the values, each as likely (any JSON: numbers,
/// strings, arrays, or — for a group — objects of field paths and values, applied together); "labels" optional,
/// what tables and charts call each value;</item>
/// <item><c>{"uniform": [low, high]}</c>, <c>{"loguniform": [low, high]}</c> (0 &lt; low: uniform in the
/// logarithm, for learning rates), <c>{"int": [low, high]}</c> (both ends included);</item>
/// <item>any other value: fixed, the same for every trial.</item>
/// </list>
/// </summary>
public sealed record SearchParameter(
    string Key,
    string Kind,
    IReadOnlyList<JsonNode?> Choices,
    double Low,
    double High,
    IReadOnlyList<string>? Labels
)
{
    /// <summary>The distributions a parameter can have ("fixed": not drawn).</summary>
    public static readonly string[] Kinds = ["choice", "uniform", "loguniform", "int"];

    /// <summary>True when the choices are groups of fields ({"arch": …, "training.start_from": …}).</summary>
    public bool IsGroup => Kind == "choice" && Choices.All(c => c is JsonObject);

    /// <summary>Drawn on a continuous or integer axis (charts draw <see cref="Kind"/> loguniform on a log axis).</summary>
    public bool IsNumeric => Kind is "uniform" or "loguniform" or "int" || Choices.All(IsNumber);

    /// <summary>Parses one "params" entry; errors name the space file and the key.</summary>
    public static SearchParameter Parse(string key, JsonNode? node, string source)
    {
        string where = $"{source}: params.{key}";
        if (node is not JsonObject obj || !obj.Any(kv => Kinds.Contains(kv.Key)))
            return new SearchParameter(key, "fixed", [node?.DeepClone()], 0, 0, null);
        var kinds = obj.Select(kv => kv.Key).Where(Kinds.Contains).ToList();
        var unknown = obj.Select(kv => kv.Key).Where(k => !Kinds.Contains(k) && k != "labels").ToList();
        if (kinds.Count > 1 || unknown.Count > 0)
            throw new MaskRcnnException(
                $"{where}: give one of {string.Join(", ", Kinds)} (and \"labels\" for a choice); found "
                    + string.Join(", ", obj.Select(kv => kv.Key))
            );
        string kind = kinds[0];
        if (obj[kind] is not JsonArray values || values.Count == 0)
            throw new MaskRcnnException($"{where}.{kind}: needs a non-empty list");
        if (kind == "choice")
            return new SearchParameter(
                key,
                kind,
                values.Select(v => v?.DeepClone()).ToList(),
                0,
                0,
                ParseLabels(obj, values.Count, where)
            );
        if (obj["labels"] is not null)
            throw new MaskRcnnException($"{where}.labels: only a choice has labels");
        if (values.Count != 2 || !IsNumber(values[0]) || !IsNumber(values[1]))
            throw new MaskRcnnException($"{where}.{kind}: needs [low, high], two numbers");
        double low = Number(values[0])!.Value,
            high = Number(values[1])!.Value;
        if (!(low <= high) || !double.IsFinite(low) || !double.IsFinite(high))
            throw new MaskRcnnException($"{where}.{kind}: [{low}, {high}] needs low ≤ high");
        if (kind == "loguniform" && !(low > 0))
            throw new MaskRcnnException($"{where}.loguniform: [{low}, {high}] needs 0 < low");
        if (kind == "int" && (low != Math.Floor(low) || high != Math.Floor(high)))
            throw new MaskRcnnException($"{where}.int: [{low}, {high}] needs whole numbers");
        return new SearchParameter(key, kind, [], low, high, null);
    }

    static IReadOnlyList<string>? ParseLabels(JsonObject obj, int count, string where)
    {
        if (obj["labels"] is null)
            return null;
        if (obj["labels"] is not JsonArray labels || labels.Count != count || labels.Any(l => l is not JsonValue))
            throw new MaskRcnnException($"{where}.labels: needs one text per choice ({count})");
        return labels.Select(l => l!.ToString()).ToList();
    }

    static bool IsNumber(JsonNode? node) => Number(node) is not null;

    /// <summary>A JSON number as a double (whatever .NET type the node holds), else null.</summary>
    public static double? Number(JsonNode? node) =>
        node is JsonValue v && v.GetValueKind() == JsonValueKind.Number
            ? double.Parse(v.ToJsonString(), CultureInfo.InvariantCulture)
            : null;

    /// <summary>A value drawn with <paramref name="random"/> (every parameter draws one number, in file order).</summary>
    public JsonNode? Sample(SplitMix random)
    {
        double u = random.NextDouble();
        return Kind switch
        {
            "fixed" => Choices[0]?.DeepClone(),
            "choice" => Choices[Math.Min(Choices.Count - 1, (int)(u * Choices.Count))]?.DeepClone(),
            "uniform" => JsonValue.Create(Low + u * (High - Low)),
            "loguniform" => JsonValue.Create(Math.Exp(Math.Log(Low) + u * (Math.Log(High) - Math.Log(Low)))),
            "int" => JsonValue.Create((long)Math.Min(High, Math.Floor(Low + u * (High - Low + 1)))),
            _ => throw new InvalidOperationException(Kind),
        };
    }

    /// <summary>
    /// <paramref name="count"/> numeric draws (seeded, repeatable), to look at a distribution; NaN for values that are
    /// not numbers.
    /// </summary>
    public IEnumerable<double> Draws(int count, ulong seed = 0)
    {
        var random = new SplitMix(seed);
        for (int i = 0; i < count; i++)
            yield return Number(Sample(random)) ?? double.NaN;
    }

    /// <summary>Which choice a value is (−1 when it is none of them).</summary>
    public int ChoiceIndex(JsonNode? value)
    {
        for (int i = 0; i < Choices.Count; i++)
            if (JsonNode.DeepEquals(Choices[i], value))
                return i;
        return -1;
    }

    /// <summary>How tables and charts name a value: its label, a number in three digits, or compact JSON.</summary>
    public string Describe(JsonNode? value)
    {
        int index = ChoiceIndex(value);
        if (Labels is not null && index >= 0)
            return Labels[index];
        return DescribeValue(value);
    }

    /// <summary>Numbers in up to four significant digits, lists of lists as "16/32/64", objects as "key=value".</summary>
    public static string DescribeValue(JsonNode? value) =>
        value switch
        {
            null => "null",
            JsonValue v when Number(v) is double d => d.ToString("G4", CultureInfo.InvariantCulture),
            JsonValue v => v.ToString(),
            JsonArray a when a.All(x => x is JsonArray { Count: 1 }) => string.Join(
                "/",
                a.Select(x => DescribeValue(x![0]))
            ),
            JsonArray a when a.Count > 1 && a.All(x => x is JsonArray && JsonNode.DeepEquals(x, a[0])) =>
                $"{DescribeValue(a[0])} (every level)",
            JsonArray a => string.Join(a.All(x => x is JsonArray) ? " / " : ",", a.Select(DescribeValue)),
            JsonObject o => string.Join(", ", o.Select(kv => $"{kv.Key.Split('.')[^1]}={DescribeValue(kv.Value)}")),
            _ => value.ToJsonString(),
        };
}
