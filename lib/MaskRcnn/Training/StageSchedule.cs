using System.Globalization;

namespace MaskRcnn.Training;

/// <summary>One training stage: a layer group trained for some epochs at a learning rate.</summary>
public sealed record Stage(string Group, int Epochs, double LearningRate);

/// <summary>Parses "heads:10,4+:10,all:10@0.0001" stage schedules.</summary>
public static class StageSchedule
{
    public static IReadOnlyList<Stage> Parse(string? spec, int defaultEpochs, double defaultLr)
    {
        if (string.IsNullOrWhiteSpace(spec))
            return [new Stage("all", defaultEpochs, defaultLr)];
        var stages = new List<Stage>();
        foreach (var part in spec.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var colon = part.LastIndexOf(':');
            if (colon <= 0)
                throw new MaskRcnnException($"training.stages: '{part}' is not GROUP:EPOCHS[@LR] (e.g. heads:10)");
            string group = part[..colon].Trim();
            string rest = part[(colon + 1)..];
            double lr = defaultLr;
            var at = rest.IndexOf('@');
            if (at >= 0)
            {
                if (
                    !double.TryParse(rest[(at + 1)..], NumberStyles.Float, CultureInfo.InvariantCulture, out lr)
                    || !(lr > 0 && lr <= Config.TrainingSettings.MaxLearningRate)
                )
                    throw new MaskRcnnException(
                        $"training.stages: '{part}' has an invalid learning rate (a number in "
                            + $"(0, {Config.TrainingSettings.MaxLearningRate}])"
                    );
                rest = rest[..at];
            }
            if (!LayerGroups.IsKnown(group))
                throw new MaskRcnnException(
                    $"training.stages: unknown layer group '{group}' (use {string.Join(", ", LayerGroups.Names)})"
                );
            if (
                !int.TryParse(rest, NumberStyles.Integer, CultureInfo.InvariantCulture, out var epochs)
                || epochs is < 1 or > Config.TrainingSettings.MaxEpochs
            )
                throw new MaskRcnnException(
                    $"training.stages: '{part}' needs a whole number of epochs in 1..{Config.TrainingSettings.MaxEpochs}"
                );
            stages.Add(new Stage(group, epochs, lr));
        }
        if (stages.Count == 0)
            throw new MaskRcnnException("training.stages: empty schedule");
        long total = stages.Sum(x => (long)x.Epochs);
        if (total > Config.TrainingSettings.MaxEpochs)
            throw new MaskRcnnException(
                $"training.stages: {total} epochs in all exceeds {Config.TrainingSettings.MaxEpochs}"
            );
        return stages;
    }

    public static string Format(IEnumerable<Stage> stages) =>
        string.Join(
            ",",
            stages.Select(s => $"{s.Group}:{s.Epochs}@{s.LearningRate.ToString("G", CultureInfo.InvariantCulture)}")
        );
}
