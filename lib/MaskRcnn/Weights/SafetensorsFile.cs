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
    /// Writes tensors and metadata atomically (<see cref="IO.AtomicFile"/>: a temporary file, flushed, then renamed). The data goes from each tensor's
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
        IO.AtomicFile.Write(
            path,
            f =>
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
        );
    }

    /// <summary>
    /// Reads tensors and metadata; a damaged file (a header that is not JSON or not safetensors', an offset outside the
    /// file or not matching its shape, an unknown dtype) is one <see cref="MaskRcnnException"/> naming the file and
    /// the tensor.
    /// </summary>
    public static (Dictionary<string, Tensor> Tensors, Dictionary<string, string> Metadata) Read(string path)
    {
        IO.InputFile.Check(path, "safetensors file", IO.InputFile.MaxWeightsBytes);
        var tensors = new Dictionary<string, Tensor>();
        try
        {
            using var f = File.OpenRead(path);
            var header = ReadHeader(f);
            long dataStart = f.Position;
            long dataLength = f.Length - dataStart;
            var metadata = new Dictionary<string, string>();
            foreach (var (name, node) in header)
            {
                if (name == "__metadata__")
                {
                    if (node is not JsonObject meta)
                        throw new InvalidDataException("__metadata__ is not an object");
                    foreach (var (k, v) in meta)
                        metadata[k] =
                            v is JsonValue value && value.TryGetValue<string>(out var text)
                                ? text
                                : throw new InvalidDataException($"metadata '{k}' is not a string");
                    continue;
                }
                var (type, shape, begin, end) = Entry(name, node, dataLength);
                var bytes = new byte[end - begin];
                f.Seek(dataStart + begin, SeekOrigin.Begin);
                f.ReadExactly(bytes);
                var t = empty(shape, dtype: type);
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
                        or OverflowException
                        or EndOfStreamException
            )
        {
            foreach (var t in tensors.Values)
                t.Dispose();
            throw new MaskRcnnException($"{path}: not a readable safetensors file ({e.Message})", e);
        }
    }

    /// <summary>The JSON header after its 8-byte length; the stream is left at the data's start.</summary>
    static JsonObject ReadHeader(FileStream f)
    {
        Span<byte> len = stackalloc byte[8];
        if (f.Read(len) != 8)
            throw new InvalidDataException("file shorter than the header length");
        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(len);
        if (headerLength == 0 || headerLength > 100_000_000 || (long)headerLength > f.Length - 8)
            throw new InvalidDataException($"bad header length {headerLength}");
        var headerBytes = new byte[headerLength];
        f.ReadExactly(headerBytes);
        JsonNode? header;
        try
        {
            header = JsonNode.Parse(headerBytes, documentOptions: IO.JsonInput.DocumentOptions);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"header is not valid JSON ({e.Message})", e);
        }
        return header as JsonObject ?? throw new InvalidDataException("header is not a JSON object");
    }

    /// <summary>
    /// One tensor's dtype, shape and byte range [begin, end) within the data, checked: a known dtype, non-negative
    /// dimensions, offsets inside the data and exactly as long as the shape needs.
    /// </summary>
    static (ScalarType Type, long[] Shape, long Begin, long End) Entry(string name, JsonNode? node, long dataLength)
    {
        if (node is not JsonObject entry)
            throw new InvalidDataException($"tensor '{name}': entry is not an object");
        string dtype =
            entry["dtype"] is JsonValue d && d.TryGetValue<string>(out var dt)
                ? dt
                : throw new InvalidDataException($"tensor '{name}': no \"dtype\" string");
        var type = Types.FirstOrDefault(kv => kv.Value.Name == dtype);
        if (type.Value.Name is null)
            throw new InvalidDataException($"tensor '{name}': unsupported dtype {dtype}");
        long[] shape = Longs(entry["shape"], name, "shape");
        long[] offsets = Longs(entry["data_offsets"], name, "data_offsets");
        if (shape.Length > 16 || shape.Any(x => x < 0))
            throw new InvalidDataException($"tensor '{name}': shape [{string.Join(", ", shape)}] is not a shape");
        if (offsets.Length != 2 || offsets[0] < 0 || offsets[1] < offsets[0] || offsets[1] > dataLength)
            throw new InvalidDataException(
                $"tensor '{name}': data_offsets [{string.Join(", ", offsets)}] lie outside the file's "
                    + $"{dataLength:N0} data bytes"
            );
        long count = 1;
        foreach (long dim in shape)
            count = checked(count * dim);
        if (offsets[1] - offsets[0] != checked(count * type.Value.Size))
            throw new InvalidDataException(
                $"tensor '{name}': {offsets[1] - offsets[0]:N0} bytes for a {dtype} tensor of shape "
                    + $"[{string.Join(", ", shape)}] ({count * type.Value.Size:N0} bytes)"
            );
        return (type.Key, shape, offsets[0], offsets[1]);
    }

    static long[] Longs(JsonNode? node, string name, string field)
    {
        if (node is not JsonArray array)
            throw new InvalidDataException($"tensor '{name}': no \"{field}\" list");
        return array
            .Select(v =>
                v is JsonValue value && value.TryGetValue<long>(out long x)
                    ? x
                    : throw new InvalidDataException(
                        $"tensor '{name}': \"{field}\" holds a value that is not a whole number"
                    )
            )
            .ToArray();
    }

    /// <summary>Only the metadata (cheap: reads the header); empty for anything that is not a safetensors file.</summary>
    public static Dictionary<string, string> ReadMetadata(string path)
    {
        try
        {
            IO.InputFile.Check(path, "safetensors file");
            using var f = File.OpenRead(path);
            var meta = ReadHeader(f)["__metadata__"] as JsonObject;
            return meta?.ToDictionary(
                    kv => kv.Key,
                    kv => kv.Value is JsonValue v && v.TryGetValue<string>(out var text) ? text : ""
                )
                ?? [];
        }
        catch (Exception e)
            when (e
                    is JsonException
                        or IOException
                        or InvalidOperationException
                        or FormatException
                        or InvalidDataException
                        or MaskRcnnException
                        or UnauthorizedAccessException
            )
        {
            return [];
        }
    }
}
