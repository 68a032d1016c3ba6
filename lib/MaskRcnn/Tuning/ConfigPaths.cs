using System.Text.Json.Nodes;
using MaskRcnn.Config;

namespace MaskRcnn.Tuning;

/// <summary>
/// A configuration as JSON, addressed by field paths: "min_size", "training.learning_rate",
/// "training.augmentation.speckle_sigma" (the snake_case names of config.json). A sweep changes a configuration here,
/// then parses it back, so every value is checked as a config file's would be.
/// </summary>
public static class ConfigPaths
{
    /// <summary>The configuration as a JSON object (config.json's content).</summary>
    public static JsonObject ToNode(MaskRcnnConfig config) => JsonNode.Parse(config.ToJson())!.AsObject();

    /// <summary>The configuration a JSON object describes, validated; errors name <paramref name="source"/>.</summary>
    public static MaskRcnnConfig ToConfig(JsonObject node, string source) =>
        MaskRcnnConfig.FromJson(node.ToJsonString(), source);

    /// <summary>True when <paramref name="path"/> names a field of <paramref name="root"/>.</summary>
    public static bool Exists(JsonObject root, string path) => Find(root, path) is not null;

    /// <summary>The value at a path (null when absent).</summary>
    public static JsonNode? Get(JsonObject root, string path) =>
        Find(root, path) is var (parent, name) ? parent[name] : null;

    /// <summary>
    /// Sets the field at <paramref name="path"/>. Where the field is a list and the value is not, the value becomes
    /// the list's only item ("min_size": 384 → [384]); where it is a list of lists (anchor_sizes, aspect_ratios) and
    /// the value a list of numbers, each number becomes a level's list ([16, 32, 64, 128, 256] → [[16], [32], …]).
    /// </summary>
    public static void Set(JsonObject root, string path, JsonNode? value)
    {
        var (parent, name) = Find(root, path) ?? throw new MaskRcnnException($"'{path}' is not a configuration field");
        var current = parent[name];
        if (current is JsonArray && value is not JsonArray)
            value = new JsonArray(value?.DeepClone());
        else if (current is JsonArray { Count: > 0 } list && list[0] is JsonArray && value is JsonArray items)
            value = new JsonArray(
                items.Select(i => i is JsonArray ? i.DeepClone() : new JsonArray(i?.DeepClone())).ToArray()
            );
        else
            value = value?.DeepClone();
        parent[name] = value;
    }

    /// <summary>Every field path of a configuration, leaves only ("training.learning_rate", not "training").</summary>
    public static IEnumerable<string> Leaves(JsonObject root, string prefix = "")
    {
        foreach (var (name, value) in root)
        {
            if (value is JsonObject inner)
                foreach (var leaf in Leaves(inner, $"{prefix}{name}."))
                    yield return leaf;
            else
                yield return prefix + name;
        }
    }

    static (JsonObject Parent, string Name)? Find(JsonObject root, string path)
    {
        var parts = path.Split('.');
        var node = root;
        for (int i = 0; i < parts.Length - 1; i++)
        {
            if (node[parts[i]] is not JsonObject inner)
                return null;
            node = inner;
        }
        return node.ContainsKey(parts[^1]) ? (node, parts[^1]) : null;
    }
}
