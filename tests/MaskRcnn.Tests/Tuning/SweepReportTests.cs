using System.Text.Json.Nodes;
using MaskRcnn.Config;
using MaskRcnn.Tuning;
using MaskRcnn.Visualization;

namespace MaskRcnn.Tests.Tuning;

/// <summary>What a notebook shows of a sweep, on made-up trials (no training).</summary>
public class SweepReportTests
{
    static SweepResult MadeUp()
    {
        var space = SearchSpace.Parse(
            """
            { "base": "cpu-quick", "rungs": { "min_epochs": 1, "max_epochs": 4, "eta": 2 },
              "params": { "training.learning_rate": { "loguniform": [0.001, 0.1] },
                          "input": { "labels": ["small", "large"], "choice": [{ "min_size": 128, "max_size": 128 }, {}] },
                          "box_batch_size_per_image": { "int": [16, 64] } } }
            """,
            "space.json"
        );
        var sampler = new TrialSampler(space);
        var trials = new List<Trial>();
        double[][] metrics =
        [
            [0.2],
            [0.5, 0.6, 0.8],
            [0.4, 0.3],
            [],
        ];
        foreach (var m in metrics)
        {
            var t = sampler.Draw(trials.Count, trials)!;
            t.Results.AddRange(
                m.Select((v, i) => new RungResult(i, 1 << i, v, 1, new Dictionary<string, double?>(), 10, 12))
            );
            t.Status =
                m.Length == 3 ? TrialStatus.Complete
                : m.Length == 0 ? TrialStatus.Failed
                : TrialStatus.Waiting;
            trials.Add(t);
        }
        trials[3].Error = "out of memory";
        var state = new SweepState
        {
            Rungs = [1, 2, 4],
            Trials = trials,
            BestTrial = 1,
        };
        return new SweepResult("/nowhere", space, state, trials[1], ConfigPaths.ToConfig(trials[1].Config, "t"), false);
    }

    [Fact]
    public void Tables_count_the_rungs_and_bold_the_best_trial()
    {
        var r = MadeUp();
        string table = SweepReport.Table(r);
        Assert.Contains("| **trial-001** | complete | 0.500 | 0.600 | 0.800 |", table);
        Assert.Contains("failed: out of memory", table);
        Assert.True(table.Contains("| small |") || table.Contains("| large |"), table); // choices by their labels
        string rungs = SweepReport.Rungs(r);
        Assert.Contains("| 1 | 1 | 3 | 30 | 0.500 |", rungs); // three trials finished rung 1, 10 s each
        Assert.Contains("| 3 | 4 | 1 | 10 | 0.800 |", rungs);
        Assert.Equal((1 + 4 + 2, 3 * 4), SweepReport.Epochs(r)); // the failed trial trained no rung
        Assert.Contains("`training.learning_rate`", SweepReport.BestAgainst(r, Presets.CpuQuick(), "cpu-quick"));
    }

    [Fact]
    public void Charts_have_an_axis_per_drawn_parameter_and_a_line_per_trial_with_a_result()
    {
        var r = MadeUp();
        var parallel = SweepReport.Parallel(r).Resolved();
        Assert.Equal(
            ["learning rate", "input", "box batch size per image", "epochs reached", "val segm AP50"],
            parallel.Series.Select(s => s.Name)
        );
        Assert.All(parallel.Series, s => Assert.Equal(3, s.Y!.Length));
        Assert.Equal([-3.0, -2, -1], parallel.Series[0].X); // decades of the log-uniform range
        Assert.Equal(["small", "large"], parallel.Series[1].Labels);
        Assert.Equal([16.0, 40, 64], parallel.Series[2].X); // the int range, not just the values drawn
        var time = SweepReport.MetricVsTime(r).Resolved();
        Assert.Equal(3, time.Series.Count);
        Assert.Equal([10.0, 20, 30], time.Series[1].X);
        Assert.NotEmpty(Charts.Png(SweepReport.Parallel(r)));
    }
}
