using MaskRcnn.Config;
using MaskRcnn.Modeling;
using TorchSharp;
using static TorchSharp.torch;

namespace MaskRcnn.Weights;

/// <summary>Builds a model whose shape fits a weights file, and loads it.</summary>
public static class ModelLoader
{
    /// <summary>
    /// Reads the architecture from state-dict keys: BasicBlock ResNets have no conv3; depth from the number
    /// of layer3 blocks (ResNet-34/50: 6, ResNet-101: 23, ResNet-18: 2; ML.NET's ResNet-18 has a third layer4 block).
    /// Null when it is not a ResNet-FPN.
    /// </summary>
    public static string? GuessArch(IReadOnlyDictionary<string, Tensor> stateDict)
    {
        const string prefix = "backbone.body.layer3.";
        var blocks = stateDict
            .Keys.Where(k => k.StartsWith(prefix))
            .Select(k => k[prefix.Length..].Split('.')[0])
            .Distinct()
            .Count();
        bool bottleneck = stateDict.Keys.Any(k => k.StartsWith("backbone.body.layer1.0.conv3."));
        bool thirdLayer4Block = stateDict.Keys.Any(k => k.StartsWith("backbone.body.layer4.2."));
        return (bottleneck, blocks) switch
        {
            (false, 2) when thirdLayer4Block => "resnet18-mlnet-fpn",
            (false, 2) => "resnet18-fpn",
            (false, 6) => "resnet34-fpn",
            (true, 6) => "resnet50-fpn",
            (true, 23) => "resnet101-fpn",
            _ => null,
        };
    }

    /// <summary>Number of classes (incl. background) of the box predictor in the weights, or null.</summary>
    public static int? GuessNumClasses(IReadOnlyDictionary<string, Tensor> stateDict) =>
        stateDict.TryGetValue("roi_heads.box_predictor.cls_score.weight", out var w) ? (int)w.shape[0] : null;

    /// <summary>The weights file a run folder's model is read from: the final model, else the best, else the last
    /// checkpoint.</summary>
    public static string ResolveRunDir(string dir)
    {
        foreach (
            var name in new[]
            {
                "model_final.safetensors",
                "checkpoint_best.safetensors",
                "checkpoint_last.safetensors",
            }
        )
        {
            string p = Path.Combine(dir, name);
            if (File.Exists(p))
                return p;
        }
        throw new MaskRcnnException(
            $"{dir}: a run folder without model_final.safetensors, checkpoint_best.safetensors or "
                + "checkpoint_last.safetensors"
        );
    }

    /// <summary>
    /// Any weights the CLI accepts: a run folder, our checkpoint (its own config; <paramref name="adjust"/> may
    /// change inference settings such as sizes and thresholds), or a torchvision state dict (.pth/.safetensors).
    /// </summary>
    public static (MaskRCNN Model, string Description) Load(
        string path,
        Func<MaskRcnnConfig, MaskRcnnConfig>? adjust = null,
        string? arch = null,
        int? numClasses = null
    )
    {
        if (Directory.Exists(path))
            path = ResolveRunDir(path);
        IO.InputFile.Check(path, "weights file", IO.InputFile.MaxWeightsBytes); // not a FIFO or device: its reading would never end
        if (Checkpoint.IsCheckpoint(path))
        {
            var c = Checkpoint.Read(path);
            try
            {
                if (arch is not null && arch != c.Config.Arch)
                    throw new MaskRcnnException($"{path} holds a {c.Config.Arch} model, not {arch}");
                if (numClasses is not null && numClasses != c.Config.NumClasses)
                    throw new MaskRcnnException($"{path} has {c.Config.NumClasses} classes, not {numClasses}");
                var config = adjust?.Invoke(c.Config) ?? c.Config;
                var model = new MaskRCNN(config);
                StateDicts.Load(model, c.Model, strict: true, sourceName: path);
                model.eval();
                string when = c.State is { } st
                    ? $", epoch {st.Epoch + (st.StepInEpoch > 0 ? 1 : 0)}, iteration {st.Iteration}"
                    : "";
                return (model, $"{Path.GetFileName(path)}: {config.Arch}, {config.NumClasses} classes{when}");
            }
            finally
            {
                DisposeAll(c);
            }
        }
        var (m, report) = FromStateDictFile(path, adjust?.Invoke(new MaskRcnnConfig()), arch, numClasses);
        return (
            m,
            $"{Path.GetFileName(path)}: torchvision layout, {m.Config.Arch}, {m.Config.NumClasses} classes, "
                + $"{report.Loaded.Count} tensors"
        );
    }

    static void DisposeAll(CheckpointContents c)
    {
        foreach (var t in c.Model.Values)
            t.Dispose();
        foreach (var t in c.Optimizer.Values)
            t.Dispose();
        c.RngState?.Dispose();
    }

    /// <summary>
    /// A model for a torchvision-format weights file (.pth / .safetensors): arch and class count from the
    /// file unless <paramref name="config"/> names them, then a strict load.
    /// </summary>
    public static (MaskRCNN Model, LoadReport Report) FromStateDictFile(
        string path,
        MaskRcnnConfig? config = null,
        string? arch = null,
        int? numClasses = null
    )
    {
        var stateDict = StateDicts.Read(path);
        try
        {
            var migrated = stateDict.ToDictionary(kv => StateDicts.MigrateKey(kv.Key), kv => kv.Value);
            var guessedArch = GuessArch(migrated);
            var guessedClasses = GuessNumClasses(migrated);
            config ??= new MaskRcnnConfig();
            config = config with
            {
                Arch = arch ?? guessedArch ?? config.Arch,
                NumClasses = numClasses ?? guessedClasses ?? config.NumClasses,
                ClassNames =
                    config.ClassNames.Length == (numClasses ?? guessedClasses ?? config.NumClasses)
                        ? config.ClassNames
                        : [],
            };
            var model = new MaskRCNN(config);
            var report = StateDicts.Load(model, stateDict, strict: true, sourceName: path);
            model.eval();
            return (model, report);
        }
        finally
        {
            foreach (var t in stateDict.Values)
                t.Dispose();
        }
    }
}
