using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace MaskRcnn.Tuning;

/// <summary>What trials.json holds: the sweep's settings, the time it has spent and every trial.</summary>
public sealed class SweepState
{
    public int Version { get; init; } = 1;

    /// <summary>The data folder, as a full path.</summary>
    public string Data { get; set; } = "";
    public double BudgetMinutes { get; set; }

    /// <summary>Wall time spent over every run of the sweep (started and resumed).</summary>
    public double ElapsedSeconds { get; set; }
    public string Metric { get; set; } = SelectionMetric.Default.Name;
    public int[] Rungs { get; set; } = [];
    public int? BestTrial { get; set; }

    /// <summary>Why the sweep's last run ended.</summary>
    public string? Ended { get; set; }
    public List<Trial> Trials { get; set; } = [];
}

/// <summary>
/// The files of a sweep folder: space.json (the space, base inline), trials.json (<see cref="SweepState"/>),
/// trials.csv (a row per trial: status, rung, metric per rung, times, values) and best.json (the best trial's
/// configuration: <c>maskrcnn train --config best.json</c> trains it). Each is written to a temporary file and renamed.
/// </summary>
public static class SweepFiles
{
    public const string Space = "space.json";
    public const string State = "trials.json";
    public const string Table = "trials.csv";
    public const string BestConfig = "best.json";

    public static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = true,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower) },
    };

    /// <summary>True when <paramref name="folder"/> holds a sweep (its trials.json).</summary>
    public static bool Holds(string folder) => File.Exists(Path.Combine(folder, State));

    public static SweepState ReadState(string folder)
    {
        string path = Path.Combine(folder, State);
        if (!File.Exists(path))
            throw new MaskRcnnException($"{folder} holds no sweep ({State} not found)");
        try
        {
            return JsonSerializer.Deserialize<SweepState>(File.ReadAllText(path), Json)
                ?? throw new MaskRcnnException($"{path}: empty");
        }
        catch (JsonException e)
        {
            throw new MaskRcnnException($"{path}: {e.Message}", e);
        }
    }

    /// <summary>trials.json, trials.csv and (once a trial has a result) best.json.</summary>
    public static void Write(string folder, SweepState state, SearchSpace space)
    {
        WriteAtomically(Path.Combine(folder, State), JsonSerializer.Serialize(state, Json));
        WriteAtomically(Path.Combine(folder, Table), Csv(state, space));
        if (state.Trials.FirstOrDefault(t => t.Id == state.BestTrial) is Trial best)
            WriteAtomically(Path.Combine(folder, BestConfig), ConfigPaths.ToConfig(best.Config, best.Name).ToJson());
    }

    public static void WriteSpace(string folder, SearchSpace space) =>
        WriteAtomically(Path.Combine(folder, Space), space.ToJson().ToJsonString(Json));

    /// <summary>One row per trial: where it stands, the metric at each rung, its times and the values drawn.</summary>
    public static string Csv(SweepState state, SearchSpace space)
    {
        var metric = SelectionMetric.Parse(state.Metric);
        var drawn = space.Parameters.Where(p => p.Kind != "fixed").ToList();
        var header = new List<string> { "trial", "status", "epochs", metric.Name, "val_loss", "training_s", "seconds" };
        header.AddRange(state.Rungs.Select(e => $"{metric.Name}@{e}"));
        header.AddRange(drawn.Select(p => p.Key));
        header.Add("error");
        var lines = new List<string> { string.Join(",", header.Select(Quote)) };
        foreach (var t in state.Trials)
        {
            var row = new List<string>
            {
                t.Name,
                t.Status.ToString().ToLowerInvariant(),
                t.Epochs.ToString(CultureInfo.InvariantCulture),
                Number(t.Metric),
                Number(t.Results.LastOrDefault()?.ValLoss),
                Number(t.TrainingSeconds),
                Number(t.Results.Sum(r => r.Seconds)),
            };
            row.AddRange(state.Rungs.Select((_, i) => Number(i < t.Results.Count ? t.Results[i].Metric : null)));
            row.AddRange(drawn.Select(p => p.Describe(t.Params.GetValueOrDefault(p.Key))));
            row.Add(t.Error ?? "");
            lines.Add(string.Join(",", row.Select(Quote)));
        }
        return string.Join("\n", lines) + "\n";
    }

    static string Number(double? v) => v is double d ? d.ToString("G6", CultureInfo.InvariantCulture) : "";

    static string Quote(string field) =>
        field.IndexOfAny([',', '"', '\n']) >= 0 ? $"\"{field.Replace("\"", "\"\"")}\"" : field;

    static void WriteAtomically(string path, string text)
    {
        string tmp = $"{path}.{Environment.ProcessId}.tmp";
        File.WriteAllText(tmp, text, new UTF8Encoding(false));
        File.Move(tmp, path, overwrite: true);
    }
}
