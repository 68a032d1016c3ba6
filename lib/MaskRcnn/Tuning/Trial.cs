using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace MaskRcnn.Tuning;

/// <summary>Where a trial stands.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<TrialStatus>))]
public enum TrialStatus
{
    /// <summary>Training toward a rung (a sweep killed now continues it on --resume).</summary>
    Running,

    /// <summary>Stopped part-way to a rung by the budget or Ctrl+C, with a checkpoint; --resume continues it.</summary>
    Stopped,

    /// <summary>Finished a rung below the last; promoted when it ranks in the best 1/eta there.</summary>
    Waiting,

    /// <summary>Finished the last rung.</summary>
    Complete,

    /// <summary>Training failed (non-finite losses, out of memory, an exception); see <see cref="Trial.Error"/>.</summary>
    Failed,
}

/// <summary>A trial's validation at the end of one rung.</summary>
/// <param name="Metric">the selection metric (null: undefined)</param>
/// <param name="Metrics">every selection metric by name</param>
/// <param name="TrainingSeconds">the training time of the job that reached this rung (steps only, validation
/// excluded), from the run's metrics.jsonl</param>
/// <param name="Seconds">the job's wall time: model set-up, training, validation and checkpoints</param>
public sealed record RungResult(
    int Rung,
    int Epochs,
    double? Metric,
    double? ValLoss,
    IReadOnlyDictionary<string, double?> Metrics,
    double TrainingSeconds,
    double Seconds
);

/// <summary>
/// One configuration of a sweep and its training run, an ordinary run folder (config.json, metrics.jsonl,
/// TensorBoard events, checkpoints) under the sweep's trials/ folder.
/// </summary>
public sealed class Trial
{
    public int Id { get; init; }

    /// <summary>The values drawn for the space's parameters, by key.</summary>
    public Dictionary<string, JsonNode?> Params { get; init; } = [];

    /// <summary>The whole configuration it trains (config.json of its run).</summary>
    public JsonObject Config { get; init; } = [];

    public TrialStatus Status { get; set; } = TrialStatus.Running;

    /// <summary>The rung its current (or last) job trains toward.</summary>
    public int TargetRung { get; set; }

    public List<RungResult> Results { get; init; } = [];

    /// <summary>Why it failed (one line).</summary>
    public string? Error { get; set; }

    [JsonIgnore]
    public string Name => $"trial-{Id:D3}";

    /// <summary>Its run folder, relative to the sweep folder.</summary>
    [JsonIgnore]
    public string Folder => Path.Combine("trials", Name);

    /// <summary>The selection metric at its highest rung (null: none yet, or undefined).</summary>
    [JsonIgnore]
    public double? Metric => Results.Count > 0 ? Results[^1].Metric : null;

    /// <summary>Training time over all its rungs (steps only).</summary>
    [JsonIgnore]
    public double TrainingSeconds => Results.Sum(r => r.TrainingSeconds);

    /// <summary>Epochs trained so far (the last rung it finished).</summary>
    [JsonIgnore]
    public int Epochs => Results.Count > 0 ? Results[^1].Epochs : 0;
}
