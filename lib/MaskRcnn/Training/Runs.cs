using MaskRcnn.Runtime;

namespace MaskRcnn.Training;

/// <summary>
/// The repository's run folders (<c>runs/</c>), by name: where notebook 04 publishes the walkthrough's model and
/// where the other notebooks find it. A run counts as trained when it holds <c>model_final.safetensors</c>.
/// </summary>
public static class Runs
{
    /// <summary>The file a finished run holds.</summary>
    public const string FinalModel = "model_final.safetensors";

    /// <summary>
    /// The walkthrough model's run name: <c>walkthrough</c>, or <c>notebook-quick</c> in quick mode
    /// (<c>MASKRCNN_QUICK=1</c>), so that a quick run never replaces the full model.
    /// </summary>
    public static string WalkthroughName => RuntimeOptions.Quick ? "notebook-quick" : "walkthrough";

    /// <summary>
    /// <c>runs/</c> of the repository that holds the current directory (the first folder upwards with
    /// <c>MaskRcnn.slnx</c>), or <c>./runs</c> outside a checkout.
    /// </summary>
    public static string Root
    {
        get
        {
            for (
                var folder = new DirectoryInfo(Environment.CurrentDirectory);
                folder is not null;
                folder = folder.Parent
            )
                if (File.Exists(Path.Combine(folder.FullName, "MaskRcnn.slnx")))
                    return Path.Combine(folder.FullName, "runs");
            return Path.GetFullPath("runs");
        }
    }

    /// <summary>The folder of run <paramref name="name"/> under <see cref="Root"/>, trained or not.</summary>
    public static string Folder(string name) => Path.Combine(Root, name);

    /// <summary>The folder of run <paramref name="name"/> when it holds a final model; null otherwise.</summary>
    public static string? Find(string name) =>
        File.Exists(Path.Combine(Folder(name), FinalModel)) ? Folder(name) : null;

    /// <summary>
    /// The walkthrough's trained model (<see cref="WalkthroughName"/>), or an error that says how to make it: the
    /// first cell of every notebook that needs the model calls this, so a notebook opened before 04_train ran says
    /// so at its top instead of showing an untrained model's output.
    /// </summary>
    public static string Walkthrough() =>
        Find(WalkthroughName)
        ?? throw new MaskRcnnException(
            $"{Folder(WalkthroughName)} holds no trained model ({FinalModel}) yet. This notebook needs the model "
                + "that notebooks/04_train.ipynb trains: run that notebook first (environment/run-notebooks.sh runs "
                + "it before the notebooks that need it), or train it from the repository root with "
                + "`dotnet run --project lib/MaskRcnn.Cli -c Release -- train --data data/phantom --preset walkthrough "
                + $"--out runs/{WalkthroughName}` (about 8 minutes on 2 CPU cores)."
        );

    /// <summary>
    /// Makes <paramref name="run"/> the run called <paramref name="name"/>: its files are copied into a fresh folder
    /// that then replaces the old one, which is kept as <c>NAME.previous</c> (one generation) so that a model being
    /// studied is never lost silently. Returns a line saying what happened.
    /// </summary>
    public static string Publish(string run, string name)
    {
        string target = Folder(name);
        if (Path.GetFullPath(run) == Path.GetFullPath(target))
            return $"{target} is this run";
        if (!File.Exists(Path.Combine(run, FinalModel)))
            throw new MaskRcnnException($"{run}: no {FinalModel} to publish (the run did not finish)");
        string incoming = target + $".incoming-{Environment.ProcessId}";
        if (Directory.Exists(incoming))
            Directory.Delete(incoming, recursive: true);
        Directory.CreateDirectory(incoming);
        foreach (var file in Directory.GetFiles(run).Where(f => Path.GetFileName(f) != ".lock"))
            File.Copy(file, Path.Combine(incoming, Path.GetFileName(file)));
        string previous = target + ".previous";
        bool kept = Directory.Exists(target);
        if (kept)
        {
            if (Directory.Exists(previous))
                Directory.Delete(previous, recursive: true);
            Directory.Move(target, previous);
        }
        Directory.Move(incoming, target);
        return kept
            ? $"published {run} → {target} (the model it replaced is in {previous})"
            : $"published {run} → {target}";
    }
}
