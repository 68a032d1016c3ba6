using System.Text.Json.Nodes;
using MaskRcnn.Config;

namespace MaskRcnn.Teaching;

/// <summary>Which fields two configurations set differently, by their JSON names.</summary>
public static class ConfigDiff
{
    /// <summary>"field: old → new; …" for every differing field (nested ones as "training.field"), or "" when the
    /// two are the same.</summary>
    public static string Describe(MaskRcnnConfig from, MaskRcnnConfig to)
    {
        var a = Flatten(JsonNode.Parse(from.ToJson())!, "");
        var b = Flatten(JsonNode.Parse(to.ToJson())!, "");
        var changed = a
            .Keys.Union(b.Keys)
            .Where(k => a.GetValueOrDefault(k) != b.GetValueOrDefault(k))
            .Order(StringComparer.Ordinal)
            .Select(k => $"{k}: {a.GetValueOrDefault(k) ?? "—"} → {b.GetValueOrDefault(k) ?? "—"}");
        return string.Join("; ", changed);
    }

    static Dictionary<string, string?> Flatten(JsonNode node, string prefix)
    {
        var fields = new Dictionary<string, string?>();
        foreach (var (name, value) in node.AsObject())
        {
            if (value is JsonObject nested)
                foreach (var (k, v) in Flatten(nested, prefix + name + "."))
                    fields[k] = v;
            else
                fields[prefix + name] =
                    value is JsonValue v && v.TryGetValue<string>(out var text) ? $"\"{text}\"" : value?.ToJsonString();
        }
        return fields;
    }
}
