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
    /// of layer3 blocks (ResNet-34/50: 6, ResNet-101: 23, ResNet-18: 2). Null when it is not a ResNet-FPN.
    /// </summary>
    public static string? GuessArch(IReadOnlyDictionary<string, Tensor> stateDict)
    {
        const string prefix = "backbone.body.layer3.";
        var blocks = stateDict.Keys.Where(k => k.StartsWith(prefix))
            .Select(k => k[prefix.Length..].Split('.')[0]).Distinct().Count();
        bool bottleneck = stateDict.Keys.Any(k => k.StartsWith("backbone.body.layer1.0.conv3."));
        return (bottleneck, blocks) switch
        {
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

    /// <summary>
    /// A model for a torchvision-format weights file (.pth / .safetensors): arch and class count from the
    /// file unless <paramref name="config"/> names them, then a strict load.
    /// </summary>
    public static (MaskRCNN Model, LoadReport Report) FromStateDictFile(string path, MaskRcnnConfig? config = null,
        string? arch = null, int? numClasses = null)
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
                ClassNames = config.ClassNames.Length == (numClasses ?? guessedClasses ?? config.NumClasses) ? config.ClassNames : [],
            };
            var model = new MaskRCNN(config);
            var report = StateDicts.Load(model, stateDict, strict: true, sourceName: path);
            model.eval();
            return (model, report);
        }
        finally
        {
            foreach (var t in stateDict.Values) t.Dispose();
        }
    }
}
