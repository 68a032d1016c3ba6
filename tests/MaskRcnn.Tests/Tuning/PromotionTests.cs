using MaskRcnn.Tuning;

namespace MaskRcnn.Tests.Tuning;

/// <summary>Successive halving's rule, on trials with made-up results (no training).</summary>
public class PromotionTests
{
    static Trial At(int id, TrialStatus status, params double?[] metrics) =>
        new()
        {
            Id = id,
            Status = status,
            TargetRung = Math.Max(0, metrics.Length - 1),
            Results = metrics
                .Select(
                    (m, rung) =>
                        new RungResult(rung, 1 << rung, m, 1.0 - id * 0.01, new Dictionary<string, double?>(), 10, 12)
                )
                .ToList(),
        };

    [Fact]
    public void The_best_of_every_eta_trials_at_a_rung_is_promoted_from_the_highest_rung_down()
    {
        var trials = new List<Trial> { At(0, TrialStatus.Waiting, 0.2), At(1, TrialStatus.Waiting, 0.5) };
        Assert.Equal(1, Promotion.Next(trials, rungCount: 3, eta: 2)!.Id); // 2 reached rung 0: the best one goes on
        Assert.Null(Promotion.Next(trials, 3, eta: 3)); // 2 / 3 rounds down to none: start a new trial instead

        trials[1] = At(1, TrialStatus.Waiting, 0.5, 0.6); // promoted and finished rung 1
        Assert.Null(Promotion.Next(trials, 3, 2)); // one trial at rung 1 and trial 0 is not in rung 0's best half
        trials.Add(At(2, TrialStatus.Waiting, 0.9));
        trials.Add(At(3, TrialStatus.Failed)); // failed at rung 0: counts as reached, ranks last
        Assert.Equal(2, Promotion.Next(trials, 3, 2)!.Id); // 4 reached rung 0 → 2 promotable: trials 2 and 1
        trials[2] = At(2, TrialStatus.Waiting, 0.9, 0.7);
        Assert.Equal(2, Promotion.Next(trials, 3, 2)!.Id); // rung 1 first: 2 reached, the best (0.7) goes on
        Assert.Equal(2, Promotion.Best(trials)!.Id);
    }

    [Fact]
    public void Ties_go_to_the_lower_validation_loss_and_undefined_metrics_rank_last()
    {
        var trials = new List<Trial>
        {
            At(0, TrialStatus.Waiting, 0.0),
            At(5, TrialStatus.Waiting, 0.0), // same AP, lower val loss (1 − 0.05)
            At(6, TrialStatus.Waiting, [null]),
        };
        Assert.Equal([5, 0, 6], Promotion.Ranked(trials, 0).Select(t => t.Id));
        Assert.Equal(5, Promotion.Best(trials)!.Id);
        Assert.Null(Promotion.Best([At(1, TrialStatus.Waiting, [null])]));
    }

    [Fact]
    public void The_best_trial_is_taken_from_the_highest_rung_reached()
    {
        var trials = new List<Trial> { At(0, TrialStatus.Waiting, 0.95), At(1, TrialStatus.Complete, 0.9, 0.8) };
        Assert.Equal(1, Promotion.Best(trials)!.Id); // measured after more training
    }
}
