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
        SafetensorsFile.ReadMetadata(path).TryGetValue("format", out var f) && f == Format;

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

    /// <summary>
    /// The training state a checkpoint holds, checked: JSON of the right shape, counts that are not negative, a best
    /// metric that is a number. A state out of range would resume at epoch −4 with a negative learning rate.
    /// </summary>
    static TrainingState ReadState(string json, string path)
    {
        TrainingState? state;
        try
        {
            state = JsonSerializer.Deserialize<TrainingState>(json, MaskRcnnConfig.JsonOptions);
        }
        catch (JsonException e)
        {
            throw new MaskRcnnException($"{path}: its training_state is not valid ({e.Message}); refused", e);
        }
        if (state is null)
            throw new MaskRcnnException($"{path}: its training_state is null; refused");
        var problems = new List<string>();
        if (state.Epoch < 0)
            problems.Add($"epoch {state.Epoch}");
        if (state.StepInEpoch < 0)
            problems.Add($"step_in_epoch {state.StepInEpoch}");
        if (state.Iteration < 0)
            problems.Add($"iteration {state.Iteration}");
        if (state.ConsecutiveNonFinite < 0)
            problems.Add($"consecutive_non_finite {state.ConsecutiveNonFinite}");
        if (state.BestMetric is double best && !double.IsFinite(best))
            problems.Add($"best_metric {best}");
        if (problems.Count > 0)
            throw new MaskRcnnException(
                $"{path}: its training_state is out of range ({string.Join(", ", problems)}); refused"
            );
        return state;
    }

    public static CheckpointContents Read(string path)
    {
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
        MaskRcnnConfig config;
        TrainingState? state;
        try
        {
            config = MaskRcnnConfig.FromJson(
                meta.GetValueOrDefault("config") ?? throw new MaskRcnnException($"{path}: checkpoint without a config"),
                $"{path} (config)"
            );
            state = meta.TryGetValue("training_state", out var s) ? ReadState(s, path) : null;
        }
        catch
        {
            foreach (var t in tensors.Values)
                t.Dispose();
            throw;
        }
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
