using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using TorchSharp;
using static TorchSharp.torch;

namespace MaskRcnn.Weights;

/// <summary>
/// safetensors files (Hugging Face's format: an 8-byte header length, a JSON header naming each tensor's
/// dtype, shape and byte range, plus free-form string metadata, then raw little-endian data), with the
/// metadata our checkpoints need. Readable by Python's safetensors as well.
/// </summary>
public static class SafetensorsFile
{
    static readonly Dictionary<ScalarType, (string Name, int Size)> Types = new()
    {
        [ScalarType.Float64] = ("F64", 8),
        [ScalarType.Float32] = ("F32", 4),
        [ScalarType.Float16] = ("F16", 2),
        [ScalarType.BFloat16] = ("BF16", 2),
        [ScalarType.Int64] = ("I64", 8),
        [ScalarType.Int32] = ("I32", 4),
        [ScalarType.Int16] = ("I16", 2),
        [ScalarType.Int8] = ("I8", 1),
        [ScalarType.Byte] = ("U8", 1),
        [ScalarType.Bool] = ("BOOL", 1),
    };

    /// <summary>
    /// Writes tensors and metadata atomically (temporary file, then rename). The data goes from each tensor's
    /// native memory straight to the file: no managed copy of the weights, so saving a checkpoint every epoch
    /// leaves no large garbage behind.
    /// </summary>
    public static void Write(
        string path,
        IReadOnlyDictionary<string, Tensor> tensors,
        IReadOnlyDictionary<string, string>? metadata = null
    )
    {
        var header = new JsonObject();
        if (metadata is { Count: > 0 })
            header["__metadata__"] = new JsonObject(
                metadata.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)kv.Value))
            );
        var ordered = tensors.OrderBy(kv => kv.Key, StringComparer.Ordinal).ToList();
        long offset = 0;
        foreach (var (name, t) in ordered)
        {
            if (!Types.TryGetValue(t.dtype, out var type))
                throw new ArgumentException($"{name}: dtype {t.dtype} cannot be stored in safetensors");
            long size = t.numel() * type.Size;
            header[name] = new JsonObject
            {
                ["dtype"] = type.Name,
                ["shape"] = new JsonArray(t.shape.Select(s => (JsonNode?)s).ToArray()),
                ["data_offsets"] = new JsonArray(offset, offset + size),
            };
            offset += size;
        }
        var headerBytes = Encoding.UTF8.GetBytes(header.ToJsonString());
        int pad = (8 - headerBytes.Length % 8) % 8; // keep the data 8-byte aligned
        headerBytes = [.. headerBytes, .. Enumerable.Repeat((byte)' ', pad)];
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        string tmp = $"{path}.{Environment.ProcessId}.tmp";
        try
        {
            using (var f = File.Create(tmp))
            {
                Span<byte> len = stackalloc byte[8];
                BinaryPrimitives.WriteUInt64LittleEndian(len, (ulong)headerBytes.Length);
                f.Write(len);
                f.Write(headerBytes);
                foreach (var (_, t) in ordered)
                {
                    using var scope = NewDisposeScope();
                    f.Write(t.detach().cpu().contiguous().bytes);
                }
            }
            File.Move(tmp, path, overwrite: true);
        }
        catch
        {
            try
            {
                File.Delete(tmp);
            }
            catch (IOException) { }
            throw;
        }
    }

    /// <summary>Reads tensors and metadata; a damaged file is a <see cref="MaskRcnnException"/> naming it.</summary>
    public static (Dictionary<string, Tensor> Tensors, Dictionary<string, string> Metadata) Read(string path)
    {
        try
        {
            using var f = File.OpenRead(path);
            Span<byte> len = stackalloc byte[8];
            if (f.Read(len) != 8)
                throw new InvalidDataException("file shorter than the header length");
            ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(len);
            if (headerLength == 0 || headerLength > 100_000_000 || (long)headerLength > f.Length - 8)
                throw new InvalidDataException("bad header length");
            var headerBytes = new byte[headerLength];
            f.ReadExactly(headerBytes);
            var header =
                JsonNode.Parse(headerBytes) as JsonObject ?? throw new InvalidDataException("header is not an object");
            long dataStart = 8 + (long)headerLength;
            var tensors = new Dictionary<string, Tensor>();
            var metadata = new Dictionary<string, string>();
            foreach (var (name, node) in header)
            {
                if (name == "__metadata__")
                {
                    foreach (var (k, v) in node as JsonObject ?? [])
                        metadata[k] = v?.GetValue<string>() ?? "";
                    continue;
                }
                var entry = node as JsonObject ?? throw new InvalidDataException($"entry '{name}' is not an object");
                string dtype = entry["dtype"]!.GetValue<string>();
                var type = Types.FirstOrDefault(kv => kv.Value.Name == dtype);
                if (type.Value.Name is null)
                    throw new InvalidDataException($"'{name}': unsupported dtype {dtype}");
                long[] shape = entry["shape"]!.AsArray().Select(s => s!.GetValue<long>()).ToArray();
                var offsets = entry["data_offsets"]!.AsArray().Select(s => s!.GetValue<long>()).ToArray();
                long count = shape.Aggregate(1L, (a, b) => a * b);
                if (offsets[1] - offsets[0] != count * type.Value.Size || dataStart + offsets[1] > f.Length)
                    throw new InvalidDataException($"'{name}': byte range does not fit its shape or the file");
                var bytes = new byte[offsets[1] - offsets[0]];
                f.Seek(dataStart + offsets[0], SeekOrigin.Begin);
                f.ReadExactly(bytes);
                var t = empty(shape, dtype: type.Key);
                t.bytes = bytes;
                tensors[name] = t;
            }
            return (tensors, metadata);
        }
        catch (Exception e)
            when (e
                    is InvalidDataException
                        or JsonException
                        or IOException
                        or InvalidOperationException
                        or FormatException
                        or NullReferenceException
                        or EndOfStreamException
            )
        {
            throw new MaskRcnnException($"{path}: not a readable safetensors file ({e.Message})", e);
        }
    }

    /// <summary>Only the metadata (cheap: reads the header).</summary>
    public static Dictionary<string, string> ReadMetadata(string path)
    {
        try
        {
            using var f = File.OpenRead(path);
            Span<byte> len = stackalloc byte[8];
            if (f.Read(len) != 8)
                return [];
            ulong n = BinaryPrimitives.ReadUInt64LittleEndian(len);
            if (n == 0 || n > 100_000_000 || (long)n > f.Length - 8)
                return [];
            var headerBytes = new byte[n];
            f.ReadExactly(headerBytes);
            var meta = (JsonNode.Parse(headerBytes) as JsonObject)?["__metadata__"] as JsonObject;
            return meta?.ToDictionary(kv => kv.Key, kv => kv.Value?.GetValue<string>() ?? "") ?? [];
        }
        catch (Exception e) when (e is JsonException or IOException or InvalidOperationException or FormatException)
        {
            return [];
        }
    }
}
