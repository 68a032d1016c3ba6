using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text.Json;
using Microsoft.ML.OnnxRuntime;

namespace OnnxPeer;

/// <summary>
/// The ONNX Runtime peer: torchvision's Mask R-CNN, exported by <c>environment/bench/onnx_export.py</c>, run by
/// Microsoft.ML.OnnxRuntime on the CPU with the side-by-side protocol's threads, warm-up and timed runs:
/// <code>dotnet artifacts/bin/OnnxPeer/Release/onnx-peer.dll --case CASE_DIR [--threads 2] [--warmup 1] [--runs 5]
///     [--json OUT]</code>
/// CASE_DIR holds model.onnx, image.f32 (float32 [3, H, W]) and onnx_case.json. Prints one JSON line, in the form
/// <c>maskrcnn benchmark</c> writes (median_s, min_s, runs, detections, last_detections with box, label, score), so
/// that side_by_side.sh and compare_detections.py read both alike. Errors are one line on stderr, exit 1.
/// </summary>
static class Program
{
    static int Main(string[] args)
    {
        try
        {
            var options = Options.Parse(args);
            string text = JsonSerializer.Serialize(Run(options));
            Console.WriteLine(text);
            if (options.Json is string path)
                File.WriteAllText(path, text);
            return 0;
        }
        catch (Exception e) when (e is ArgumentException or IOException or OnnxRuntimeException or JsonException)
        {
            Console.Error.WriteLine($"error: {e.Message.Split('\n')[0]}");
            return 1;
        }
    }

    sealed record Options(string Case, int Threads, int Warmup, int Runs, string? Json)
    {
        public static Options Parse(string[] args)
        {
            var values = new Dictionary<string, string>();
            for (int i = 0; i < args.Length; i += 2)
            {
                if (!args[i].StartsWith("--") || i + 1 >= args.Length)
                    throw new ArgumentException($"expected --option value, got '{args[i]}'");
                values[args[i]] = args[i + 1];
            }
            foreach (var key in values.Keys)
                if (key is not ("--case" or "--threads" or "--warmup" or "--runs" or "--json"))
                    throw new ArgumentException($"unknown option {key} (--case, --threads, --warmup, --runs, --json)");
            int Int(string key, int fallback, int min)
            {
                if (!values.TryGetValue(key, out var v))
                    return fallback;
                return int.TryParse(v, out int n) && n >= min
                    ? n
                    : throw new ArgumentException($"{key} must be a whole number ≥ {min}, not '{v}'");
            }
            return new Options(
                values.TryGetValue("--case", out var c) ? c : throw new ArgumentException("--case CASE_DIR is needed"),
                Int("--threads", 2, 1),
                Int("--warmup", 1, 0),
                Int("--runs", 5, 1),
                values.GetValueOrDefault("--json")
            );
        }
    }

    /// <summary>What onnx_export.py wrote beside the model.</summary>
    sealed record ExportedCase(int Opset, string Torch, string Torchvision, long[] ImageShape, string Input);

    static Dictionary<string, object?> Run(Options o)
    {
        string modelPath = Path.Combine(o.Case, "model.onnx");
        var exported =
            JsonSerializer.Deserialize<ExportedCase>(
                File.ReadAllText(Path.Combine(o.Case, "onnx_case.json")),
                new JsonSerializerOptions { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower }
            ) ?? throw new ArgumentException($"{o.Case}/onnx_case.json is empty");
        float[] image = ReadImage(Path.Combine(o.Case, "image.f32"), exported.ImageShape);

        // The protocol's threads: intra-op = the peer's torch.set_num_threads (the calling thread and N - 1 more),
        // operators one at a time; the rest is ONNX Runtime's default (all graph optimisations).
        using var sessionOptions = new SessionOptions
        {
            IntraOpNumThreads = o.Threads,
            InterOpNumThreads = 1,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
        };
        var load = Stopwatch.StartNew();
        using var session = new InferenceSession(modelPath, sessionOptions);
        double loadSeconds = load.Elapsed.TotalSeconds;
        string[] outputNames = ["boxes", "labels", "scores", "masks"];
        foreach (var name in outputNames)
            if (!session.OutputNames.Contains(name))
                throw new ArgumentException(
                    $"{modelPath} has no output '{name}' ({string.Join(", ", session.OutputNames)})"
                );

        using var input = OrtValue.CreateTensorValueFromMemory(image, exported.ImageShape);
        using var runOptions = new RunOptions();
        var times = new List<double>();
        var counts = new List<long>();
        List<Dictionary<string, object>>? last = null;
        for (int i = 0; i < o.Warmup + o.Runs; i++)
        {
            var sw = Stopwatch.StartNew();
            using var outputs = session.Run(runOptions, [exported.Input], [input], outputNames);
            double t = sw.Elapsed.TotalSeconds;
            if (i < o.Warmup)
                continue;
            times.Add(t);
            counts.Add(outputs[0].GetTensorTypeAndShape().Shape[0]);
            if (i == o.Warmup + o.Runs - 1)
                last = Detections(outputs[0], outputs[1], outputs[2]);
        }
        var sorted = times.Order().ToList();
        double median =
            sorted.Count % 2 == 1
                ? sorted[sorted.Count / 2]
                : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;
        return new Dictionary<string, object?>
        {
            ["runtime"] = "onnxruntime",
            ["onnxruntime"] = OrtEnv.Instance().GetVersionString(),
            ["exported_with"] = $"torch {exported.Torch}, torchvision {exported.Torchvision}, opset {exported.Opset}",
            ["image_shape"] = exported.ImageShape,
            ["threads"] = o.Threads,
            ["warmup"] = o.Warmup,
            ["session_load_s"] = Math.Round(loadSeconds, 3),
            ["median_s"] = Math.Round(median, 4),
            ["min_s"] = Math.Round(sorted[0], 4),
            ["runs"] = times.Select(t => Math.Round(t, 4)).ToList(),
            ["detections"] = counts,
            ["last_detections"] = last,
        };
    }

    /// <summary>Raw little-endian float32 in C order, of exactly the shape's size.</summary>
    static float[] ReadImage(string path, long[] shape)
    {
        byte[] bytes = File.ReadAllBytes(path);
        long expected = shape.Aggregate(1L, (a, b) => a * b) * sizeof(float);
        if (bytes.Length != expected)
            throw new ArgumentException(
                $"{path}: {bytes.Length} bytes, but [{string.Join(", ", shape)}] float32 needs {expected}"
            );
        return MemoryMarshal.Cast<byte, float>(bytes).ToArray();
    }

    /// <summary>Boxes [N, 4] (x1, y1, x2, y2 in the image's pixels), labels [N] (int64), scores [N].</summary>
    static List<Dictionary<string, object>> Detections(OrtValue boxes, OrtValue labels, OrtValue scores)
    {
        var b = boxes.GetTensorDataAsSpan<float>().ToArray();
        var l = labels.GetTensorDataAsSpan<long>().ToArray();
        var s = scores.GetTensorDataAsSpan<float>().ToArray();
        return Enumerable
            .Range(0, s.Length)
            .Select(k => new Dictionary<string, object>
            {
                ["box"] = b.Skip(4 * k).Take(4).Select(v => Math.Round((double)v, 4)).ToList(),
                ["label"] = l[k],
                ["score"] = Math.Round((double)s[k], 6),
            })
            .ToList();
    }
}
