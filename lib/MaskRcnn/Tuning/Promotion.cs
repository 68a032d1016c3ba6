namespace MaskRcnn.Tuning;

/// <summary>
/// Asynchronous successive halving (ASHA, Li et al., MLSys 2020), one job at a time: before a new trial starts at the
/// first rung, look for a trial to promote, from the highest rung down — one that ranks in the best 1/eta of every
/// trial that reached its rung (failed ones count, as the worst) and has not gone on yet. Most trials therefore stop
/// after the first, cheapest rung, and the budget goes to the few that lead there.
/// </summary>
public static class Promotion
{
    /// <summary>
    /// The trials that finished <paramref name="rung"/>, best first: by the selection metric (undefined last), then
    /// the lower validation loss (early rungs often tie at 0 AP), then the earlier trial.
    /// </summary>
    public static IReadOnlyList<Trial> Ranked(IEnumerable<Trial> trials, int rung) =>
        trials
            .Where(t => t.Results.Count > rung)
            .OrderByDescending(t => t.Results[rung].Metric ?? double.NegativeInfinity)
            .ThenBy(t => t.Results[rung].ValLoss ?? double.PositiveInfinity)
            .ThenBy(t => t.Id)
            .ToList();

    /// <summary>How many trials reached <paramref name="rung"/>: finished it, or failed on the way to it.</summary>
    public static int Reached(IEnumerable<Trial> trials, int rung) =>
        trials.Count(t => t.Results.Count > rung || (t.Status == TrialStatus.Failed && t.TargetRung == rung));

    /// <summary>The trial to promote now (to the rung after its last), or null.</summary>
    public static Trial? Next(IReadOnlyList<Trial> trials, int rungCount, int eta)
    {
        for (int rung = rungCount - 2; rung >= 0; rung--)
        {
            int promotable = Reached(trials, rung) / eta;
            var candidate = Ranked(trials, rung)
                .Take(promotable)
                .FirstOrDefault(t =>
                    t.Status == TrialStatus.Waiting && t.Results.Count == rung + 1 && t.Results[rung].Metric is not null
                );
            if (candidate is not null)
                return candidate;
        }
        return null;
    }

    /// <summary>
    /// The sweep's best trial: the best-ranked of those that reached the highest rung any trial finished with a defined
    /// metric (a trial measured after more training beats one stopped earlier), or null before any result.
    /// </summary>
    public static Trial? Best(IReadOnlyList<Trial> trials)
    {
        int top = trials.Select(t => t.Results.Count).DefaultIfEmpty(0).Max() - 1;
        for (int rung = top; rung >= 0; rung--)
            if (Ranked(trials, rung).FirstOrDefault(t => t.Results[rung].Metric is not null) is Trial best)
                return best;
        return null;
    }
}
