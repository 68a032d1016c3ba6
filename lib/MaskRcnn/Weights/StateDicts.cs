using System.Collections;
using System.Text.RegularExpressions;
using TorchSharp;
using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace MaskRcnn.Weights;

/// <summary>What a state-dict load did, key by key.</summary>
/// <param name="Loaded">keys copied into the model</param>
/// <param name="Renamed">old → new names migrated (pre-0.13 torchvision checkpoints)</param>
/// <param name="Skipped">source keys deliberately not loaded (e.g. class-specific layers on a class-count
/// change)</param>
/// <param name="Missing">model keys the source lacks (left as initialised)</param>
/// <param name="Unexpected">source keys the model does not have</param>
/// <param name="ShapeMismatches">keys whose shapes or dtypes differ: "key: source [..] vs model [..]", "key: source
/// Int32 vs model Float32"</param>
public sealed record LoadReport(
    IReadOnlyList<string> Loaded,
    IReadOnlyList<(string Old, string New)> Renamed,
    IReadOnlyList<string> Skipped,
    IReadOnlyList<string> Missing,
    IReadOnlyList<string> Unexpected,
    IReadOnlyList<string> ShapeMismatches
)
{
    public bool IsExact => Missing.Count == 0 && Unexpected.Count == 0 && ShapeMismatches.Count == 0;
}

/// <summary>
/// Reads and writes state dicts (name → tensor) in PyTorch's formats and loads them into our modules, whose
/// names are torchvision's. Handles torch.save'd .pth/.pt files (zip format; bare state dicts or training
/// checkpoints holding one under "model"/"state_dict") and safetensors; migrates the older key names that the
/// published COCO checkpoints use; tolerates num_batches_tracked either way.
/// </summary>
public static class StateDicts
{
    /// <summary>Reads a .pth/.pt (torch.save) or .safetensors file.</summary>
    public static Dictionary<string, Tensor> Read(string path)
    {
        IO.InputFile.Check(path, "weights file", IO.InputFile.MaxWeightsBytes);
        try
        {
            if (IsSafetensors(path))
                return SafetensorsFile.Read(path).Tensors; // checked offsets and shapes, errors naming the tensor
            if (!IsZip(path))
                throw new MaskRcnnException(NotAnArchive(path));
            var table = PyTorchUnpickler.UnpickleStateDict(path);
            return Flatten(table, path);
        }
        catch (MaskRcnnException)
        {
            throw;
        }
        catch (Exception e) when (RefusedConstruction(e) is string callable)
        {
            // The unpickler builds no object it does not know and calls nothing: a pickle that would call a
            // function with arguments (os.system, eval, …) ends here. Say so, not the unpickler's advice.
            throw new MaskRcnnException($"{path}: {Refused} (it would call {callable})", e);
        }
        catch (Exception e)
        {
            throw new MaskRcnnException(
                $"{path}: not a readable PyTorch state dict or safetensors file ({e.GetType().Name}: {e.Message})",
                e
            );
        }
    }

    /// <summary>What a pickle that is not tensors and plain containers gets, whatever it would have done.</summary>
    const string Refused = "this file holds code or objects that are not tensors; refused";

    static bool IsZip(string path)
    {
        using var f = File.OpenRead(path);
        Span<byte> head = stackalloc byte[4];
        return f.Read(head) == 4 && head.SequenceEqual("PK\u0003\u0004"u8);
    }

    /// <summary>
    /// torch.save's legacy format (before PyTorch 1.6) starts with the pickled magic number 0x1950a86a20f9469cfc6c;
    /// any other file here is a bare pickle, which torch.save never writes: code or objects, not a state dict.
    /// </summary>
    static string NotAnArchive(string path)
    {
        ReadOnlySpan<byte> magic = [0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19];
        using var f = File.OpenRead(path);
        Span<byte> head = stackalloc byte[magic.Length];
        int n = f.Read(head);
        if (n == magic.Length && head.SequenceEqual(magic))
            return $"{path}: saved in PyTorch's legacy format (before 1.6), which is not read here; "
                + "re-save it with torch.save in a current PyTorch";
        if (n > 0 && head[0] == 0x80)
            return $"{path}: {Refused}";
        return $"{path}: neither a PyTorch archive (.pth/.pt zip) nor a safetensors file";
    }

    /// <summary>The callable a pickle asked to be called with arguments ("posix.system"), or null.</summary>
    static string? RefusedConstruction(Exception e)
    {
        for (var x = e; x is not null; x = x.InnerException)
        {
            var m = Regex.Match(x.Message, @"construction of ClassDict \(for ([^)]+)\)");
            if (x.GetType().Name == "PickleException" && m.Success)
                return m.Groups[1].Value;
        }
        return null;
    }

    /// <summary>Writes safetensors (by extension .safetensors) or a torch.save-compatible .pth, atomically.</summary>
    public static void Write(string path, IReadOnlyDictionary<string, Tensor> stateDict)
    {
        var dict = stateDict.ToDictionary(kv => kv.Key, kv => kv.Value.detach().cpu().contiguous());
        if (path.EndsWith(".safetensors", StringComparison.OrdinalIgnoreCase))
            SafetensorsFile.Write(path, dict);
        else
            IO.AtomicFile.Write(path, stream => PyTorchPickler.PickleStateDict(stream, new Hashtable(dict), true));
    }

    static bool IsSafetensors(string path)
    {
        if (path.EndsWith(".safetensors", StringComparison.OrdinalIgnoreCase))
            return true;
        using var f = File.OpenRead(path);
        Span<byte> head = stackalloc byte[9];
        if (f.Read(head) < 9)
            return false;
        // safetensors: 8-byte little-endian header length, then '{'; torch.save zips start with "PK".
        return head[0] != (byte)'P' && head[8] == (byte)'{';
    }

    static Dictionary<string, Tensor> Flatten(Hashtable table, string path)
    {
        foreach (var wrapper in new[] { "model", "state_dict", "model_state_dict" })
            if (table[wrapper] is Hashtable inner)
                return Flatten(inner, path);
        var result = new Dictionary<string, Tensor>();
        foreach (DictionaryEntry e in table)
        {
            if (e.Key is string key && e.Value is Tensor t)
                result[key] = t;
        }
        if (result.Count == 0)
            throw new MaskRcnnException(
                $"{path}: holds no tensors (keys: {string.Join(", ", table.Keys.Cast<object>().Take(10))})"
            );
        return result;
    }

    static readonly (Regex Old, string New)[] Migrations =
    [
        (new(@"^(.*backbone\.fpn\.(?:inner|layer)_blocks\.\d+)\.(weight|bias)$"), "$1.0.$2"),
        (new(@"^(.*rpn\.head\.conv)\.(weight|bias)$"), "$1.0.0.$2"),
        (new(@"^(.*roi_heads\.mask_head)\.mask_fcn(\d+)\.(weight|bias)$"), "MASK_FCN"),
    ];

    /// <summary>Renames torchvision's pre-0.13 keys (FPN blocks, RPN conv, mask_fcn{i}) to the current ones.</summary>
    public static string MigrateKey(string key)
    {
        foreach (var (old, replacement) in Migrations)
        {
            var m = old.Match(key);
            if (!m.Success)
                continue;
            return replacement == "MASK_FCN"
                ? $"{m.Groups[1].Value}.{int.Parse(m.Groups[2].Value) - 1}.0.{m.Groups[3].Value}"
                : old.Replace(key, replacement);
        }
        return key;
    }

    /// <summary>
    /// Copies <paramref name="source"/> into <paramref name="module"/>. With <paramref name="strict"/>, any
    /// missing, unexpected or mis-shaped key is a <see cref="MaskRcnnException"/> that lists them; keys for
    /// which <paramref name="skip"/> returns true are reported as skipped and not loaded.
    /// </summary>
    public static LoadReport Load(
        nn.Module module,
        IReadOnlyDictionary<string, Tensor> source,
        bool strict = true,
        Func<string, bool>? skip = null,
        string sourceName = "state dict"
    )
    {
        var target = module.state_dict();
        var loaded = new List<string>();
        var renamed = new List<(string, string)>();
        var skipped = new List<string>();
        var unexpected = new List<string>();
        var mismatched = new List<string>();
        var seen = new HashSet<string>();
        var pending = new List<(string Key, Tensor Target, Tensor Source)>();

        foreach (var (rawKey, value) in source)
        {
            string key = MigrateKey(rawKey);
            if (key != rawKey)
                renamed.Add((rawKey, key));
            if (key.EndsWith("num_batches_tracked") && !target.ContainsKey(key))
                continue; // FrozenBatchNorm2d has none
            if (!target.TryGetValue(key, out var dest))
            {
                unexpected.Add(rawKey);
                continue;
            }
            seen.Add(key);
            if (skip?.Invoke(key) == true)
            {
                skipped.Add(key);
                continue;
            }
            if (!dest.shape.SequenceEqual(value.shape))
            {
                mismatched.Add(
                    $"{key}: source [{string.Join(", ", value.shape)}] vs model [{string.Join(", ", dest.shape)}]"
                );
                continue;
            }
            // A tensor of another dtype is not the model's: its bytes mean other numbers (a float32 tensor relabelled
            // int32 loads as nonsense and predicts nothing). Refused, naming it, even without strict.
            if (value.dtype != dest.dtype)
                throw new MaskRcnnException(
                    $"{sourceName}: tensor '{key}' is {value.dtype}, the model's is {dest.dtype}; refused (convert the "
                        + "weights to the model's dtype)"
                );
            pending.Add((key, dest, value));
            loaded.Add(key);
        }
        var missing = target.Keys.Where(k => !seen.Contains(k) && !k.EndsWith("num_batches_tracked")).ToList();
        var report = new LoadReport(loaded, renamed, skipped, missing, unexpected, mismatched);

        if (strict && !report.IsExact)
        {
            static string List(string title, IReadOnlyCollection<string> keys) =>
                keys.Count == 0
                    ? ""
                    : $"; {title} ({keys.Count}): {string.Join(", ", keys.Take(20))}{(keys.Count > 20 ? ", …" : "")}";
            throw new MaskRcnnException(
                $"{sourceName} does not fit the model"
                    + List("missing", report.Missing)
                    + List("unexpected", report.Unexpected)
                    + List("wrong shape", report.ShapeMismatches)
            );
        }

        // NaN or ∞ in weights gives no detections (or nonsense) without any error: refuse them, naming the tensor.
        foreach (var (key, _, value) in pending)
        {
            if (!value.is_floating_point())
                continue;
            using var finite = value.isfinite();
            using var good = finite.sum();
            long count = value.numel() - good.item<long>();
            if (count > 0)
                throw new MaskRcnnException(
                    $"{sourceName}: tensor '{key}' holds {count:N0} NaN or infinite "
                        + $"value{(count == 1 ? "" : "s")} (of {value.numel():N0}); refused"
                );
        }

        using var noGrad = no_grad();
        foreach (var (_, dest, value) in pending)
            dest.copy_(value.to(dest.dtype, dest.device));
        return report;
    }

    /// <summary>Reads a file and loads it (see <see cref="Load"/>).</summary>
    public static LoadReport LoadFile(
        nn.Module module,
        string path,
        bool strict = true,
        Func<string, bool>? skip = null
    ) => Load(module, Read(path), strict, skip, path);
}
