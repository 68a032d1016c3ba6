using System.Text.Json;

namespace MaskRcnn.Training;

/// <summary>A "train" row of metrics.jsonl: the logged step, and the mean of the steps since the previous
/// row.</summary>
public sealed record TrainRow(
    int Epoch,
    int Step,
    long Iteration,
    string Stage,
    double LearningRate,
    double Loss,
    IReadOnlyDictionary<string, double> Losses,
    double? MeanLoss,
    IReadOnlyDictionary<string, double>? MeanLosses,
    double ElapsedSeconds
);

/// <summary>A "val" row of metrics.jsonl: the validation after an epoch (null where it was not measured).</summary>
public sealed record ValRow(
    int Epoch,
    long Iteration,
    double? Loss,
    double ElapsedSeconds,
    double TrainingSeconds,
    double? SegmAP50,
    double? SegmAP,
    double? BboxAP50,
    double? BboxAP,
    double? Sensitivity,
    double? FpPerImage,
    double? Dice,
    double? ImageAccuracy
);

/// <summary>An "epoch" row of metrics.jsonl: the time and memory after each epoch.</summary>
public sealed record EpochRow(int Epoch, long Iteration, double ElapsedSeconds, double TrainingSeconds, double RssMb);

/// <summary>
/// A run's metrics.jsonl, typed (what <see cref="Trainer"/> writes and TensorBoard shows): training rows, validations
/// and epochs, and what notebooks ask of them.
/// </summary>
public sealed class TrainingMetrics(
    string run,
    IReadOnlyList<TrainRow> train,
    IReadOnlyList<ValRow> validations,
    IReadOnlyList<EpochRow> epochs
)
{
    public string Run { get; } = run;
    public IReadOnlyList<TrainRow> Train { get; } = train;
    public IReadOnlyList<ValRow> Validations { get; } = validations;
    public IReadOnlyList<EpochRow> Epochs { get; } = epochs;

    /// <summary>The loss names, in the order the rows give them.</summary>
    public IReadOnlyList<string> LossNames => Train.Count == 0 ? [] : Train[0].Losses.Keys.ToList();

    /// <summary>The iterations at which a new stage (layer group) starts, with its name.</summary>
    public IReadOnlyList<(long Iteration, string Stage)> StageStarts =>
        Train
            .Where((row, i) => i > 0 && row.Stage != Train[i - 1].Stage)
            .Select(row => (row.Iteration - row.Step + 1, row.Stage))
            .ToList();

    /// <summary>The first validation whose value reaches <paramref name="level"/>, or null.</summary>
    public ValRow? FirstReaching(Func<ValRow, double?> metric, double level) =>
        Validations.FirstOrDefault(v => metric(v) is double m && m >= level);

    /// <summary>Reads RUN/metrics.jsonl (a run folder or the file itself).</summary>
    public static TrainingMetrics Read(string run)
    {
        string file = Directory.Exists(run) ? Path.Combine(run, "metrics.jsonl") : run;
        if (!File.Exists(file))
            throw new MaskRcnnException($"{file}: no metrics (the run has not logged a step yet)");
        var train = new List<TrainRow>();
        var validations = new List<ValRow>();
        var epochs = new List<EpochRow>();
        int number = 0;
        foreach (var line in File.ReadLines(file))
        {
            number++;
            if (line.Length == 0)
                continue;
            try
            {
                using var doc = JsonDocument.Parse(line);
                var row = doc.RootElement;
                switch (row.GetProperty("type").GetString())
                {
                    case "train":
                        train.Add(ReadTrain(row));
                        break;
                    case "val":
                        validations.Add(ReadVal(row));
                        break;
                    case "epoch":
                        epochs.Add(ReadEpoch(row));
                        break;
                }
            }
            catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException)
            {
                throw new MaskRcnnException($"{file}, line {number}: not a metrics row ({e.Message})");
            }
        }
        return new TrainingMetrics(Path.GetDirectoryName(Path.GetFullPath(file))!, train, validations, epochs);
    }

    static TrainRow ReadTrain(JsonElement row) =>
        new(
            row.GetProperty("epoch").GetInt32(),
            row.GetProperty("step").GetInt32(),
            row.GetProperty("iteration").GetInt64(),
            row.GetProperty("stage").GetString() ?? "",
            Number(row, "lr") ?? double.NaN,
            Number(row, "loss") ?? double.NaN,
            Losses(row, "losses") ?? new Dictionary<string, double>(),
            Number(row, "loss_mean"),
            Losses(row, "losses_mean"),
            Number(row, "elapsed_s") ?? double.NaN
        );

    static ValRow ReadVal(JsonElement row) =>
        new(
            row.GetProperty("epoch").GetInt32(),
            row.GetProperty("iteration").GetInt64(),
            Number(row, "val_loss"),
            Number(row, "elapsed_s") ?? double.NaN,
            Number(row, "training_s") ?? double.NaN,
            Nested(row, "segm", "AP50"),
            Nested(row, "segm", "AP"),
            Nested(row, "bbox", "AP50"),
            Nested(row, "bbox", "AP"),
            Number(row, "sensitivity"),
            Number(row, "fp_per_image"),
            Number(row, "dice"),
            Number(row, "image_classification_accuracy")
        );

    static EpochRow ReadEpoch(JsonElement row) =>
        new(
            row.GetProperty("epoch").GetInt32(),
            row.GetProperty("iteration").GetInt64(),
            Number(row, "elapsed_s") ?? double.NaN,
            Number(row, "training_s") ?? double.NaN,
            Number(row, "rss_mb") ?? double.NaN
        );

    /// <summary>A number, or null where it is missing, null or not finite ("NaN" as the trainer writes it).</summary>
    static double? Number(JsonElement row, string name) =>
        row.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number && double.IsFinite(v.GetDouble())
            ? v.GetDouble()
            : null;

    static double? Nested(JsonElement row, string block, string name) =>
        row.TryGetProperty(block, out var b) && b.ValueKind == JsonValueKind.Object ? Number(b, name) : null;

    static IReadOnlyDictionary<string, double>? Losses(JsonElement row, string name) =>
        row.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Object
            ? v.EnumerateObject()
                .Where(p => p.Value.ValueKind == JsonValueKind.Number)
                .ToDictionary(p => p.Name, p => p.Value.GetDouble())
            : null;
}
