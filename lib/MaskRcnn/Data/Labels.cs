using System.Text.Json.Nodes;
using MaskRcnn.Data.Via;

namespace MaskRcnn.Data;

/// <summary>What to do with a region that has no label.</summary>
public enum UnlabeledPolicy
{
    /// <summary>Leave it out and report it (default).</summary>
    Skip,

    /// <summary>Refuse the whole file.</summary>
    Error,

    /// <summary>Give it <see cref="LabelOptions.DefaultClass"/>.</summary>
    DefaultClass,
}

/// <summary>How region attributes become class ids.</summary>
/// <param name="Classes">foreground class names; class id = position + 1 (0 is background). Default: benign,
/// malignant.</param>
/// <param name="LabelKey">the region attribute holding the label; null: detect it (see <see
/// cref="LabelResolver.DetectLabelKey"/>)</param>
/// <param name="Unlabeled">rule for regions without a label</param>
/// <param name="DefaultClass">class for unlabelled regions under <see cref="UnlabeledPolicy.DefaultClass"/></param>
/// <param name="Synonyms">extra names mapped onto classes, e.g. {"cancer": "malignant"} (compared normalised)</param>
public sealed record LabelOptions(
    IReadOnlyList<string> Classes,
    string? LabelKey = null,
    UnlabeledPolicy Unlabeled = UnlabeledPolicy.Skip,
    string? DefaultClass = null,
    IReadOnlyDictionary<string, string>? Synonyms = null
)
{
    public static LabelOptions Default { get; } = new(["benign", "malignant"]);
}

/// <summary>
/// Reads labels from region attributes in every form VIA writes: a string ("malignant"), a checkbox object
/// ({"malignant": true}), dropdown/radio values (strings), VIA 3 option ids (resolved by the reader). Names
/// are compared normalised: surrounding spaces trimmed, case folded.
/// </summary>
public static class LabelResolver
{
    public static string Normalize(string s) => s.Trim().ToLowerInvariant();

    /// <summary>The label value(s) an attribute holds: one for strings/numbers, the checked keys of a checkbox
    /// object.</summary>
    public static IReadOnlyList<string> Values(JsonObject attributes, string key)
    {
        var node = attributes[key];
        return node switch
        {
            null => [],
            JsonObject o => o.Where(kv =>
                    kv.Value is JsonValue v && (v.TryGetValue<bool>(out var b) ? b : v.ToString() is "true" or "1")
                )
                .Select(kv => kv.Key)
                .Where(k => Normalize(k).Length > 0)
                .ToArray(),
            JsonArray a => a.Select(x => x?.ToString() ?? "").Where(s => Normalize(s).Length > 0).ToArray(),
            JsonValue v => v.ToString() is var s && Normalize(s).Length > 0 ? [s] : [],
            _ => [],
        };
    }

    /// <summary>
    /// The label attribute: the one key whose values name a known class; if none does but every labelled
    /// region uses the same single key, that key; null when regions carry no attributes. Several candidate
    /// keys are ambiguous: a <see cref="MaskRcnnException"/> asks for an explicit key.
    /// </summary>
    public static string? DetectLabelKey(ViaDocument doc, LabelOptions options)
    {
        if (options.LabelKey is not null)
            return options.LabelKey;
        var known = KnownNames(options);
        var keys = doc
            .Images.SelectMany(i => i.Regions)
            .SelectMany(r => r.Attributes.Select(kv => kv.Key))
            .Distinct()
            .ToList();
        var matching = keys.Where(k =>
                doc.Images.SelectMany(i => i.Regions)
                    .Any(r => Values(r.Attributes, k).Any(v => known.ContainsKey(Normalize(v))))
            )
            .ToList();
        if (matching.Count == 1)
            return matching[0];
        if (matching.Count > 1)
            throw new MaskRcnnException(
                $"{doc.Source}: several region attributes hold class names ({string.Join(", ", matching)}); name the "
                    + $"one that holds the label with --label-key (one of {string.Join(", ", matching)}; "
                    + "LabelOptions.LabelKey in code)"
            );
        return keys.Count == 1 ? keys[0] : null;
    }

    /// <summary>normalised name → class id (1-based), including synonyms.</summary>
    public static Dictionary<string, int> KnownNames(LabelOptions options)
    {
        var map = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < options.Classes.Count; i++)
        {
            string name = Normalize(options.Classes[i] ?? "");
            if (name.Length == 0)
                throw new MaskRcnnException($"class {i + 1} has an empty name; every class needs one");
            if (!map.TryAdd(name, i + 1))
                throw new MaskRcnnException(
                    $"the class name '{options.Classes[i]}' is given twice (classes {map[name]} and {i + 1}: "
                        + $"{string.Join(", ", options.Classes)}); class names must differ"
                );
        }
        if (options.Synonyms is not null)
            foreach (var (alias, target) in options.Synonyms)
                if (map.TryGetValue(Normalize(target), out var id))
                    map[Normalize(alias)] = id;
        return map;
    }

    /// <summary>Class id for a region, or null with the reason.</summary>
    public static (int? ClassId, string? Problem) Resolve(
        ViaRegion region,
        string? labelKey,
        LabelOptions options,
        Dictionary<string, int> known
    )
    {
        var values = labelKey is null ? [] : Values(region.Attributes, labelKey);
        if (values.Count == 0)
        {
            return options.Unlabeled switch
            {
                UnlabeledPolicy.DefaultClass
                    when options.DefaultClass is not null
                        && known.TryGetValue(Normalize(options.DefaultClass), out var id) => (id, null),
                UnlabeledPolicy.DefaultClass => (
                    null,
                    $"no label and the default class '{options.DefaultClass}' is not one of "
                        + $"{string.Join(", ", options.Classes)}"
                ),
                _ => (null, labelKey is null ? "no label attribute" : $"no label in '{labelKey}'"),
            };
        }
        if (values.Count > 1)
            return (null, $"several labels ({string.Join(", ", values)}) in '{labelKey}'");
        return known.TryGetValue(Normalize(values[0]), out var classId)
            ? (classId, null)
            : (null, $"unknown label '{values[0]}' (classes: {string.Join(", ", options.Classes)})");
    }
}
