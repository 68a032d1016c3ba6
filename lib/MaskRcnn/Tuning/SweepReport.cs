using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using MaskRcnn.Config;
using MaskRcnn.Data;
using MaskRcnn.Evaluation;
using MaskRcnn.Visualization;
using MaskRcnn.Weights;

namespace MaskRcnn.Tuning;

/// <summary>
/// What a notebook shows of a sweep, one call each: the trials as a table, parallel coordinates, the metric against
/// training time, the rungs, the best configuration against a baseline, and the chosen trials on a held-out split.
/// Tables are markdown (display them as "text/markdown"); charts are <see cref="ChartSpec"/>s.
/// </summary>
public static class SweepReport
{
    /// <summary>One row per trial: status, the metric at each rung, training time and the values drawn.</summary>
    public static string Table(SweepResult r)
    {
        var drawn = Drawn(r);
        var header = new List<string> { "trial", "status" };
        header.AddRange(r.Rungs.Select(e => $"{r.Metric.Title} @{e} ep"));
        header.Add("training (s)");
        header.AddRange(drawn.Select(p => p.Key));
        var rows = r.Trials.Select(t =>
        {
            var row = new List<string> { t == r.Best ? $"**{t.Name}**" : t.Name, Status(t) };
            row.AddRange(r.Rungs.Select((_, i) => i < t.Results.Count ? Number(t.Results[i].Metric) : ""));
            row.Add(t.TrainingSeconds.ToString("F0", CultureInfo.InvariantCulture));
            row.AddRange(drawn.Select(p => p.Describe(t.Params.GetValueOrDefault(p.Key))));
            return row;
        });
        return Markdown(header, rows);
    }

    /// <summary>Per rung: how many trials finished it, the training time spent reaching it, the best metric there.</summary>
    public static string Rungs(SweepResult r)
    {
        var rows = r.Rungs.Select(
            (epochs, i) =>
                new List<string>
                {
                    $"{i + 1}",
                    $"{epochs}",
                    $"{r.Trials.Count(t => t.Results.Count > i)}",
                    r
                        .Trials.Where(t => t.Results.Count > i)
                        .Sum(t => t.Results[i].TrainingSeconds)
                        .ToString("F0", CultureInfo.InvariantCulture),
                    Number(Promotion.Ranked(r.Trials, i).FirstOrDefault()?.Results[i].Metric),
                }
        );
        return Markdown(
            ["rung", "epochs", "trials that finished it", "training time on it (s)", $"best {r.Metric.Title}"],
            rows
        );
    }

    /// <summary>Epochs trained over all trials, and what training every trial to the last rung would have cost.</summary>
    public static (int Trained, int WithoutHalving) Epochs(SweepResult r) =>
        (r.Trials.Sum(t => t.Epochs), r.Trials.Count(t => t.Results.Count > 0) * r.Rungs[^1]);

    /// <summary>
    /// Parallel coordinates: an axis per drawn parameter (a log axis for loguniform ones, category names for choices),
    /// the epochs each trial reached and its metric there; one line per trial with a result, coloured by the metric.
    /// </summary>
    public static ChartSpec Parallel(SweepResult r)
    {
        var trials = r.Trials.Where(t => t.Results.Count > 0).ToList();
        var axes = Drawn(r).Select(p => Axis(p, trials)).ToList();
        axes.Add(
            new ChartSeries(
                "epochs reached",
                Y: trials.Select(t => (double)t.Epochs).ToArray(),
                X: r.Rungs.Select(e => (double)e).ToArray(),
                Labels: r.Rungs.Select(e => e.ToString(CultureInfo.InvariantCulture)).ToArray()
            )
        );
        double[] ticks = [0, 0.25, 0.5, 0.75, 1]; // the metric's whole range, 0–1, whatever the trials reached
        axes.Add(
            new ChartSeries(
                r.Metric.Title,
                Y: trials.Select(t => t.Metric ?? double.NaN).ToArray(),
                X: ticks,
                Labels: ticks.Select(v => v.ToString("0.##", CultureInfo.InvariantCulture)).ToArray()
            )
        );
        return ChartSpec.Parallel(
            $"The sweep's trials: one line each, coloured by {r.Metric.Title}",
            r.Metric.Title,
            [.. axes]
        );
    }

    /// <summary>Each trial's metric at its rungs against its training time so far: short lines stopped early.</summary>
    public static ChartSpec MetricVsTime(SweepResult r)
    {
        var series = r
            .Trials.Where(t => t.Results.Count > 0)
            .Select(t => new ChartSeries(
                t.Name,
                X: t.Results.Select((_, i) => t.Results.Take(i + 1).Sum(x => x.TrainingSeconds)).ToArray(),
                Y: t.Results.Select(x => x.Metric ?? double.NaN).ToArray()
            ))
            .ToArray();
        // Up to a little above the best result (at least 0.1): trials that all score low are not pressed to the floor.
        double best = series.SelectMany(s => s.Y!).Where(double.IsFinite).DefaultIfEmpty(0).Max();
        double top = Math.Min(1.02, Math.Max(0.1, best * 1.15));
        return ChartSpec.Lines(
            $"{r.Metric.Title} against training time, per trial",
            "training time (s, steps only; each point a rung)",
            $"{r.Metric.Title} (0–1)",
            series
        ) with
        {
            YRange = [-0.02 * top, top],
            Width = 860,
        };
    }

    /// <summary>The fields where the best trial's configuration differs from <paramref name="baseline"/>.</summary>
    public static string BestAgainst(SweepResult r, MaskRcnnConfig baseline, string baselineName)
    {
        if (r.BestConfig is null)
            return "_no trial has a result yet_";
        var best = ConfigPaths.ToNode(r.BestConfig);
        var other = ConfigPaths.ToNode(baseline);
        var rows = ConfigPaths
            .Leaves(best)
            .Where(path => !JsonNode.DeepEquals(ConfigPaths.Get(best, path), ConfigPaths.Get(other, path)))
            .Select(path => new List<string>
            {
                $"`{path}`",
                SearchParameter.DescribeValue(ConfigPaths.Get(other, path)),
                SearchParameter.DescribeValue(ConfigPaths.Get(best, path)),
            });
        return Markdown(["field", baselineName, $"best ({r.Best!.Name})"], rows);
    }

    /// <summary>
    /// The trials that reached the last rung, measured again on <paramref name="val"/> and on a held-out split the
    /// sweep never read: the sweep picked on the first column, so only the second estimates the pick on new images.
    /// </summary>
    public static string Holdout(SweepResult r, Dataset val, Dataset heldOut, string heldOutName = "test")
    {
        var rows = new List<List<string>>();
        if (!r.Trials.Any(t => t.Status == TrialStatus.Complete))
            return "_No trial reached the last rung within the budget: there is no final model to measure._";
        foreach (var t in r.Trials.Where(t => t.Status == TrialStatus.Complete))
        {
            var (model, _) = ModelLoader.Load(Path.Combine(r.Folder, t.Folder));
            using (model)
            {
                double threshold = model.Config.Training.ClinicalScoreThreshold;
                double? onVal = Read(r.Metric, DatasetEvaluation.Evaluate(model, val, threshold));
                double? onHeldOut = Read(r.Metric, DatasetEvaluation.Evaluate(model, heldOut, threshold));
                rows.Add([t == r.Best ? $"**{t.Name}** (picked)" : t.Name, Number(onVal), Number(onHeldOut)]);
            }
        }
        return Markdown(
            ["trial", $"{r.Metric.Title} (val: ranked on)", $"{r.Metric.Title[4..]} ({heldOutName})"],
            rows
        );
    }

    static double? Read(SelectionMetric metric, EvaluationReport report) =>
        metric.Read(JsonSerializer.SerializeToElement(report));

    static List<SearchParameter> Drawn(SweepResult r) => r.Space.Parameters.Where(p => p.Kind != "fixed").ToList();

    /// <summary>
    /// One parameter's axis, named by the key's last part in words, spanning what could be drawn: values (ticks at
    /// the ends and middle, or at the numeric choices), log10 for loguniform (ticks at decades), category indices.
    /// </summary>
    static ChartSeries Axis(SearchParameter p, IReadOnlyList<Trial> trials)
    {
        var values = trials.Select(t => t.Params.GetValueOrDefault(p.Key)).ToList();
        string name = p.Key.Split('.')[^1].Replace('_', ' ');
        if (p.Kind == "loguniform")
        {
            var decades = Enumerable
                .Range(
                    (int)Math.Floor(Math.Log10(p.Low)),
                    (int)Math.Ceiling(Math.Log10(p.High)) - (int)Math.Floor(Math.Log10(p.Low)) + 1
                )
                .Select(d => (double)d)
                .ToArray();
            return new ChartSeries(
                name,
                Y: values.Select(v => Math.Log10(SearchParameter.Number(v) ?? double.NaN)).ToArray(),
                X: decades,
                Labels: decades.Select(d => Math.Pow(10, d).ToString("G3", CultureInfo.InvariantCulture)).ToArray()
            );
        }
        if (p.Kind != "choice" || p.IsNumeric)
        {
            // The axis spans what could be drawn, so it shows where in the range the good trials landed.
            double[] ticks =
                p.Kind == "choice"
                    ? p.Choices.Select(c => SearchParameter.Number(c)!.Value).Distinct().Order().ToArray()
                    : [p.Low, (p.Low + p.High) / 2, p.High];
            return new ChartSeries(
                name,
                Y: values.Select(v => SearchParameter.Number(v) ?? double.NaN).ToArray(),
                X: ticks,
                Labels: ticks.Select(v => v.ToString("G4", CultureInfo.InvariantCulture)).ToArray()
            );
        }
        return new ChartSeries(
            name,
            Y: values.Select(v => (double)p.ChoiceIndex(v)).ToArray(),
            X: Enumerable.Range(0, p.Choices.Count).Select(i => (double)i).ToArray(),
            Labels: p.Choices.Select(p.Describe).ToArray()
        );
    }

    static string Status(Trial t) =>
        t.Status switch
        {
            TrialStatus.Waiting => "stopped at a rung",
            TrialStatus.Failed => $"failed: {t.Error}",
            _ => t.Status.ToString().ToLowerInvariant(),
        };

    static string Number(double? v) => v is double d ? d.ToString("F3", CultureInfo.InvariantCulture) : "—";

    static string Markdown(IReadOnlyList<string> header, IEnumerable<IReadOnlyList<string>> rows)
    {
        var text = new StringBuilder();
        text.AppendLine("| " + string.Join(" | ", header) + " |");
        text.AppendLine("|" + string.Concat(Enumerable.Repeat("---|", header.Count)));
        foreach (var row in rows)
            text.AppendLine("| " + string.Join(" | ", row.Select(c => c.Replace("|", "\\|"))) + " |");
        return text.ToString();
    }
}
