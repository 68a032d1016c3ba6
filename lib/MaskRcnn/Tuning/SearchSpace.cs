using System.Text.Json;
using System.Text.Json.Nodes;
using MaskRcnn.Config;

namespace MaskRcnn.Tuning;

/// <summary>
/// A sweep's search space, read from JSON:
/// <code>
/// {
///   "base": "walkthrough",                      // a preset, a config file, or a config object
///   "params": {
///     "training.learning_rate": { "loguniform": [0.005, 0.05] },
///     "min_size": { "choice": [256, 384] },   // a number for a list field is its only item
///     "anchor_sizes": { "choice": [[16, 32, 64, 128, 256], [8, 16, 32, 64, 128]], "labels": ["16…256", "8…128"] },
///     "training.augmentation.speckle_sigma": { "uniform": [0.0, 0.15] },
///     "box_batch_size_per_image": { "int": [32, 128] },
///     "start": { "choice": [ { "preset": "walkthrough" },
///                            { "preset": "cpu-quick", "training.learning_rate": 0.02 } ] },
///     "training.steps_per_epoch": 30               // fixed for every trial
///   },
///   "rungs": { "min_epochs": 1, "max_epochs": 9, "eta": 3 },
///   "metric": "segm_ap50",
///   "seed": 0,
///   "max_trials": 40
/// }
/// </code>
/// A key is a field path of config.json (snake_case, nested with dots) or a group's name (any other word), whose
/// choices are objects of field paths and values applied together (a start point with its architecture and input
/// normalisation); "preset" (as a key or inside a group) starts the trial from that preset or config file instead of
/// the base, before the other values apply. training.epochs is the sweep's own: the rungs set it.
/// </summary>
public sealed record SearchSpace
{
    public required string Source { get; init; }

    /// <summary>"base" as given (a preset name, a file) or "(inline)".</summary>
    public required string BaseName { get; init; }

    /// <summary>The base configuration as JSON.</summary>
    public required JsonObject Base { get; init; }
    public required IReadOnlyList<SearchParameter> Parameters { get; init; }
    public Rungs Rungs { get; init; } = Rungs.Default;
    public SelectionMetric Metric { get; init; } = SelectionMetric.Default;

    /// <summary>Trial i's values are drawn from (seed, i) alone: the same space and seed give the same trials.</summary>
    public int Seed { get; init; }

    /// <summary>No more trials than this (null: as many as the budget allows).</summary>
    public int? MaxTrials { get; init; }

    /// <summary>The parameters as written, for <see cref="ToJson"/>.</summary>
    JsonObject ParamsJson { get; init; } = [];

    static readonly string[] TopLevel = ["base", "params", "rungs", "metric", "seed", "max_trials", "description"];

    /// <summary>Fields a space may not vary, and why.</summary>
    static readonly Dictionary<string, string> Reserved = new()
    {
        ["training.epochs"] = "the rungs set the epochs (rungs.max_epochs)",
        ["training.validate_every"] = "a sweep validates at the end of each rung",
    };

    public static SearchSpace Load(string path)
    {
        if (!File.Exists(path))
            throw new MaskRcnnException($"search space file not found: {path}");
        return Parse(File.ReadAllText(path), path, Path.GetDirectoryName(Path.GetFullPath(path)));
    }

    /// <summary>Parses and checks a space; every error names <paramref name="source"/> and the key.</summary>
    /// <param name="folder">where relative config files ("base", "preset") are looked for first</param>
    public static SearchSpace Parse(string json, string source, string? folder = null)
    {
        JsonObject root;
        try
        {
            root =
                JsonNode.Parse(json, documentOptions: new() { CommentHandling = JsonCommentHandling.Skip })
                    as JsonObject
                ?? throw new MaskRcnnException($"{source}: a search space is a JSON object");
        }
        catch (JsonException e)
        {
            throw new MaskRcnnException($"{source}: {e.Message}", e);
        }
        if (root.Select(kv => kv.Key).FirstOrDefault(k => !TopLevel.Contains(k)) is string unknown)
            throw new MaskRcnnException($"{source}: unknown key '{unknown}' (use {string.Join(", ", TopLevel)})");
        var (baseName, baseConfig) = ResolveBase(root["base"], source, folder);
        if (root["params"] is not JsonObject paramsJson)
            throw new MaskRcnnException($"{source}: params: needs an object of field paths and distributions");
        var parameters = paramsJson.Select(kv => SearchParameter.Parse(kv.Key, kv.Value, source)).ToList();
        var space = new SearchSpace
        {
            Source = source,
            BaseName = baseName,
            Base = baseConfig,
            Parameters = parameters,
            Rungs = ParseRungs(root["rungs"], source),
            Metric = root["metric"] is null ? SelectionMetric.Default : ParseMetric(root["metric"], source),
            Seed = Integer(root["seed"], source, "seed") ?? 0,
            MaxTrials = Integer(root["max_trials"], source, "max_trials"),
            ParamsJson = (JsonObject)paramsJson.DeepClone(),
        };
        if (space.MaxTrials is < 1)
            throw new MaskRcnnException($"{source}: max_trials: {space.MaxTrials} (must be ≥ 1)");
        foreach (var p in parameters)
            space.CheckParameter(p, folder);
        return space;
    }

    /// <summary>
    /// The space as the sweep keeps it (SWEEP/space.json): a base given as a file is written inline, so the sweep
    /// folder alone describes its trials.
    /// </summary>
    public JsonObject ToJson()
    {
        var json = new JsonObject
        {
            ["base"] = Presets.Names.Contains(BaseName) ? BaseName : Base.DeepClone(),
            ["params"] = ParamsJson.DeepClone(),
            ["rungs"] = new JsonObject
            {
                ["min_epochs"] = Rungs.MinEpochs,
                ["max_epochs"] = Rungs.MaxEpochs,
                ["eta"] = Rungs.Eta,
            },
            ["metric"] = Metric.Name,
            ["seed"] = Seed,
        };
        if (MaxTrials is int max)
            json["max_trials"] = max;
        return json;
    }

    /// <summary>The configuration a "preset" value names: a preset, or a config file.</summary>
    public static JsonObject ResolveConfig(string name, string source, string? folder)
    {
        if (Presets.Names.Contains(name))
            return ConfigPaths.ToNode(Presets.Get(name));
        string? path = new[] { folder is null ? null : Path.Combine(folder, name), name }.FirstOrDefault(File.Exists);
        if (path is null)
            throw new MaskRcnnException(
                $"{source}: '{name}' is neither a preset ({string.Join(", ", Presets.Names)}) nor a config file"
            );
        return ConfigPaths.ToNode(MaskRcnnConfig.Load(path));
    }

    static (string Name, JsonObject Config) ResolveBase(JsonNode? node, string source, string? folder) =>
        node switch
        {
            null => ("cpu-quick", ConfigPaths.ToNode(Presets.CpuQuick())),
            JsonObject inline => ("(inline)", ConfigPaths.ToNode(ConfigPaths.ToConfig(inline, $"{source}: base"))),
            JsonValue v when v.GetValueKind() == JsonValueKind.String => (
                v.ToString(),
                ResolveConfig(v.ToString(), $"{source}: base", folder)
            ),
            _ => throw new MaskRcnnException($"{source}: base: a preset name, a config file or a config object"),
        };

    static Rungs ParseRungs(JsonNode? node, string source)
    {
        if (node is null)
            return Rungs.Default;
        if (node is not JsonObject o || o.Any(kv => kv.Key is not ("min_epochs" or "max_epochs" or "eta")))
            throw new MaskRcnnException($"{source}: rungs: needs {{\"min_epochs\", \"max_epochs\", \"eta\"}}");
        var d = Rungs.Default;
        var rungs = new Rungs(
            Integer(o["min_epochs"], source, "rungs.min_epochs") ?? d.MinEpochs,
            Integer(o["max_epochs"], source, "rungs.max_epochs") ?? d.MaxEpochs,
            Integer(o["eta"], source, "rungs.eta") ?? d.Eta
        );
        if (rungs.Problems("rungs").FirstOrDefault() is string problem)
            throw new MaskRcnnException($"{source}: {problem}");
        return rungs;
    }

    static SelectionMetric ParseMetric(JsonNode? node, string source)
    {
        try
        {
            return SelectionMetric.Parse(node is JsonValue v ? v.ToString() : "");
        }
        catch (MaskRcnnException e)
        {
            throw new MaskRcnnException($"{source}: metric: {e.Message}");
        }
    }

    static int? Integer(JsonNode? node, string source, string key)
    {
        if (node is null)
            return null;
        if (node is JsonValue v && v.TryGetValue(out int i))
            return i;
        throw new MaskRcnnException($"{source}: {key}: needs a whole number");
    }

    /// <summary>
    /// A key names a field (not a reserved one) or is a group of fields; each value it can take has the field's JSON
    /// type; a weights file it names exists. Checked once, before any trial trains.
    /// </summary>
    void CheckParameter(SearchParameter p, string? folder)
    {
        string where = $"{Source}: params.{p.Key}";
        if (p.Key == "preset")
        {
            foreach (var value in p.Choices)
                ResolveConfig(value is JsonValue v ? v.ToString() : "", where, folder);
            return;
        }
        if (!ConfigPaths.Exists(Base, p.Key))
        {
            if (!p.IsGroup)
                throw new MaskRcnnException(
                    $"{where}: '{p.Key}' is not a configuration field (the names of a run's config.json, nested "
                        + "with dots: training.learning_rate, min_size, …) nor a group (a choice of objects)"
                );
            foreach (var group in p.Choices.Cast<JsonObject>())
            foreach (var (key, value) in group)
                CheckValue($"{where}: {key}", key, value, folder);
            return;
        }
        if (Reserved.TryGetValue(p.Key, out var why))
            throw new MaskRcnnException($"{where}: a sweep does not vary {p.Key}: {why}");
        // A continuous draw is probed with a fraction: a whole-number field cannot take it.
        var values = p.Kind switch
        {
            "choice" or "fixed" => p.Choices,
            "int" => [JsonValue.Create((long)p.Low), JsonValue.Create((long)p.High)],
            _ => [JsonValue.Create(p.Low + 0.5 * (p.High - p.Low) + 1e-3)],
        };
        foreach (var value in values)
            CheckValue(where, p.Key, value, folder);
    }

    void CheckValue(string where, string key, JsonNode? value, string? folder)
    {
        if (key == "preset")
        {
            ResolveConfig(value is JsonValue v ? v.ToString() : "", where, folder);
            return;
        }
        if (!ConfigPaths.Exists(Base, key))
            throw new MaskRcnnException($"{where}: '{key}' is not a configuration field");
        if (Reserved.TryGetValue(key, out var why))
            throw new MaskRcnnException($"{where}: a sweep does not vary {key}: {why}");
        var probe = (JsonObject)Base.DeepClone();
        ConfigPaths.Set(probe, key, value);
        try
        {
            JsonSerializer.Deserialize<MaskRcnnConfig>(probe.ToJsonString(), MaskRcnnConfig.JsonOptions);
        }
        catch (JsonException)
        {
            throw new MaskRcnnException(
                $"{where}: {SearchParameter.DescribeValue(value)} does not fit the field (its type is that of "
                    + $"{ConfigPaths.Get(Base, key)?.ToJsonString()})"
            );
        }
        if (key == "training.start_from" && value is JsonValue start)
        {
            string s = start.ToString();
            if (s is not ("none" or "coco" or "imagenet") && !File.Exists(s))
                throw new MaskRcnnException($"{where}: start point '{s}' is not none, coco, imagenet or a file");
        }
    }
}
