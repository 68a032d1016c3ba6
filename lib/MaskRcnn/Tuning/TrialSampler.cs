using System.Text.Json.Nodes;
using MaskRcnn.Data.Phantoms;

namespace MaskRcnn.Tuning;

/// <summary>
/// Draws trials from a search space. Trial i's values come from the seed and i alone (SplitMix, one number per
/// parameter in file order), so a sweep started again draws the same trials; a draw that repeats an earlier trial's
/// configuration, or that the configuration's checks refuse (min_size above max_size), is drawn again, up to
/// <see cref="Attempts"/> times.
/// </summary>
public sealed class TrialSampler(SearchSpace space, string? folder = null)
{
    public const int Attempts = 100;

    /// <summary>
    /// Trial <paramref name="id"/>, different from <paramref name="earlier"/>; null when every draw repeated one
    /// (a small space is exhausted).
    /// </summary>
    public Trial? Draw(int id, IEnumerable<Trial> earlier)
    {
        var seen = earlier.Select(t => t.Config.ToJsonString()).ToHashSet();
        string? lastProblem = null;
        int valid = 0;
        for (int attempt = 0; attempt < Attempts; attempt++)
        {
            var random = new SplitMix(SplitMix.Derive((ulong)space.Seed, (ulong)id, (ulong)attempt));
            var values = space.Parameters.ToDictionary(p => p.Key, p => p.Sample(random));
            JsonObject config;
            try
            {
                config = ConfigOf(values);
            }
            catch (MaskRcnnException e)
            {
                lastProblem = e.Message;
                continue;
            }
            valid++;
            if (seen.Contains(config.ToJsonString()))
                continue;
            var drawn = space.Parameters.Where(p => p.Kind != "fixed").ToDictionary(p => p.Key, p => values[p.Key]);
            return new Trial
            {
                Id = id,
                Params = drawn,
                Config = config,
            };
        }
        if (valid == 0)
            throw new MaskRcnnException(
                $"{space.Source}: no valid configuration in {Attempts} draws; the last: {lastProblem}"
            );
        return null;
    }

    /// <summary>
    /// The configuration for drawn values (fixed parameters may be left out): the base (or the drawn "preset"), each
    /// value set in file order (a group's fields together), the schedule laid over the last rung's epochs; checked as
    /// a config file is.
    /// </summary>
    public JsonObject ConfigOf(IReadOnlyDictionary<string, JsonNode?> values)
    {
        var fields = new List<(string Key, JsonNode? Value)>();
        string? preset = null;
        foreach (var p in space.Parameters)
        {
            var value = p.Kind == "fixed" ? p.Choices[0] : values[p.Key];
            if (p.Key == "preset")
                preset = value?.ToString();
            else if (!ConfigPaths.Exists(space.Base, p.Key) && value is JsonObject group)
                foreach (var (key, v) in group)
                    if (key == "preset")
                        preset = v?.ToString();
                    else
                        fields.Add((key, v));
            else
                fields.Add((p.Key, value));
        }
        var config = preset is null
            ? (JsonObject)space.Base.DeepClone()
            : SearchSpace.ResolveConfig(preset, space.Source, folder);
        foreach (var (key, value) in fields)
            ConfigPaths.Set(config, key, value);
        TrialSchedule.Apply(config, space.Rungs.MaxEpochs);
        return ConfigPaths.ToNode(ConfigPaths.ToConfig(config, "trial configuration"));
    }
}
