namespace MaskRcnn.Tuning;

/// <summary>
/// The rungs of successive halving, in epochs: min_epochs, then × eta at each rung, up to max_epochs (the last rung
/// is max_epochs even where the factor overshoots it): min 1, max 8, eta 2 → 1, 2, 4, 8. Every trial starts at the
/// first rung; at each rung the best 1/eta of the trials that reached it go on to the next.
/// </summary>
public sealed record Rungs(int MinEpochs, int MaxEpochs, int Eta)
{
    /// <summary>The default: 1, 3, 9 epochs, the best third promoted (Hyperband's and ASHA's eta = 3).</summary>
    public static Rungs Default { get; } = new(1, 9, 3);

    /// <summary>The epochs at the end of each rung, increasing.</summary>
    public IReadOnlyList<int> Epochs
    {
        get
        {
            var epochs = new List<int>();
            for (long e = MinEpochs; e < MaxEpochs; e *= Eta)
                epochs.Add((int)e);
            epochs.Add(MaxEpochs);
            return epochs;
        }
    }

    /// <summary>The rung index whose end is <paramref name="epoch"/>, or −1.</summary>
    public int IndexOf(int epoch) => Epochs.ToList().IndexOf(epoch);

    /// <summary>Every problem, each naming its field under <paramref name="where"/>.</summary>
    public IEnumerable<string> Problems(string where)
    {
        if (MinEpochs < 1)
            yield return $"{where}.min_epochs: {MinEpochs} (must be ≥ 1)";
        if (MaxEpochs < MinEpochs)
            yield return $"{where}.max_epochs: {MaxEpochs} is below min_epochs {MinEpochs}";
        if (MaxEpochs > 10_000)
            yield return $"{where}.max_epochs: {MaxEpochs} (at most 10000)";
        if (Eta < 2)
            yield return $"{where}.eta: {Eta} (must be ≥ 2: the share of trials promoted is 1/eta)";
    }
}
