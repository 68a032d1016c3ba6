using System.Text.Json;
using MaskRcnn.Config;
using MaskRcnn.Modeling;
using TorchSharp;
using static TorchSharp.torch;

namespace MaskRcnn.Weights;

/// <summary>Where a training run stands; saved in every checkpoint so a resumed run continues exactly.</summary>
/// <param name="Epoch">0-based epoch in progress</param>
/// <param name="StepInEpoch">steps of that epoch already done</param>
/// <param name="Iteration">global steps done</param>
/// <param name="BestMetric">best validation value so far (higher is better), if any</param>
public sealed record TrainingState(
    int Epoch,
    int StepInEpoch,
    long Iteration,
    double? BestMetric,
    string? BestMetricName,
    int ConsecutiveNonFinite = 0,
    bool Finished = false
);

/// <summary>Everything a checkpoint file holds.</summary>
public sealed record CheckpointContents(
    int Version,
    MaskRcnnConfig Config,
    Dictionary<string, Tensor> Model,
    Dictionary<string, Tensor> Optimizer,
    Tensor? RngState,
    TrainingState? State,
    string Created,
    string Library
);

/// <summary>
/// Our checkpoint: one safetensors file holding the model weights ("model.*", torchvision names), the optimizer's
/// momentum buffers ("optimizer.momentum.*"), libtorch's RNG state ("rng.torch") and, as metadata, the format
/// name and version, the resolved config (with class names) and the training state. Versioned: readers accept
/// every version up to theirs. Python's safetensors reads it too.
/// </summary>
public static class Checkpoint
{
    public const string Format = "maskrcnn-checkpoint";
    public const int Version = 1;

    public static bool IsCheckpoint(string path) =>
        File.Exists(path) && SafetensorsFile.ReadMetadata(path).TryGetValue("format", out var f) && f == Format;

    public static void Save(
        string path,
        MaskRCNN model,
        Training.Sgd? optimizer = null,
        TrainingState? state = null,
        bool includeRng = true
    )
    {
        var tensors = new Dictionary<string, Tensor>();
        foreach (var (k, v) in model.state_dict())
            tensors["model." + k] = v;
        if (optimizer is not null)
            foreach (var (k, v) in optimizer.State)
                tensors["optimizer.momentum." + k] = v;
        Tensor? rng = includeRng ? torch.get_rng_state() : null;
        if (rng is not null)
            tensors["rng.torch"] = rng;
        var meta = new Dictionary<string, string>
        {
            ["format"] = Format,
            ["version"] = Version.ToString(),
            ["config"] = model.Config.ToJson(),
            ["created"] = DateTime.UtcNow.ToString("O"),
            ["library"] = typeof(Checkpoint).Assembly.GetName().Version?.ToString() ?? "",
        };
        if (state is not null)
            meta["training_state"] = JsonSerializer.Serialize(state, MaskRcnnConfig.JsonOptions);
        SafetensorsFile.Write(path, tensors, meta);
        rng?.Dispose();
    }

    public static CheckpointContents Read(string path)
    {
        if (!File.Exists(path))
            throw new MaskRcnnException($"checkpoint not found: {path}");
        var (tensors, meta) = SafetensorsFile.Read(path);
        if (!meta.TryGetValue("format", out var format) || format != Format)
            throw new MaskRcnnException(
                $"{path}: not a {Format} file (a plain weights file? use it as --weights FILE with torchvision layout)"
            );
        if (!int.TryParse(meta.GetValueOrDefault("version"), out var version) || version < 1)
            throw new MaskRcnnException($"{path}: checkpoint has no valid version");
        if (version > Version)
            throw new MaskRcnnException(
                $"{path}: checkpoint version {version} was written by a newer maskrcnn (this one reads up to {Version})"
            );
        var config = MaskRcnnConfig.FromJson(
            meta.GetValueOrDefault("config") ?? throw new MaskRcnnException($"{path}: checkpoint without a config"),
            $"{path} (config)"
        );
        TrainingState? state = meta.TryGetValue("training_state", out var s)
            ? JsonSerializer.Deserialize<TrainingState>(s, MaskRcnnConfig.JsonOptions)
            : null;
        var model = tensors
            .Where(kv => kv.Key.StartsWith("model."))
            .ToDictionary(kv => kv.Key["model.".Length..], kv => kv.Value);
        var optimizer = tensors
            .Where(kv => kv.Key.StartsWith("optimizer.momentum."))
            .ToDictionary(kv => kv.Key["optimizer.momentum.".Length..], kv => kv.Value);
        return new CheckpointContents(
            version,
            config,
            model,
            optimizer,
            tensors.GetValueOrDefault("rng.torch"),
            state,
            meta.GetValueOrDefault("created") ?? "",
            meta.GetValueOrDefault("library") ?? ""
        );
    }
}
