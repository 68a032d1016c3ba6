using System.Buffers.Binary;
using System.Text;

namespace MaskRcnn.Training;

/// <summary>
/// Writes TensorBoard event files (events.out.tfevents.*) with scalar summaries: TFRecord framing (length,
/// masked CRC-32C, data, masked CRC-32C) around hand-encoded Event protocol buffers. Open the run folder with
/// `tensorboard --logdir RUN_DIR`.
/// </summary>
public sealed class TensorBoardWriter : IDisposable
{
    readonly FileStream _file;
    public string Path { get; }

    public TensorBoardWriter(string dir)
    {
        Directory.CreateDirectory(dir);
        long seconds = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        Path = System.IO.Path.Combine(dir, $"events.out.tfevents.{seconds}.{Environment.MachineName}.{Environment.ProcessId}");
        _file = new FileStream(Path, FileMode.Append, FileAccess.Write, FileShare.Read);
        WriteEvent(Event(0, fileVersion: "brain.Event:2"));
    }

    /// <summary>Appends scalars (tag → value) at a step and flushes.</summary>
    public void Scalars(long step, IEnumerable<(string Tag, double Value)> values)
    {
        var summary = new List<byte>();
        foreach (var (tag, value) in values)
        {
            var v = new List<byte>();
            Field(v, 1, 2); Bytes(v, Encoding.UTF8.GetBytes(tag));
            var f = new byte[4];
            BinaryPrimitives.WriteSingleLittleEndian(f, (float)value);
            Field(v, 2, 5); v.AddRange(f);
            Field(summary, 1, 2); Bytes(summary, v.ToArray());
        }
        WriteEvent(Event(step, summary: summary.ToArray()));
        _file.Flush();
    }

    static byte[] Event(long step, string? fileVersion = null, byte[]? summary = null)
    {
        var e = new List<byte>();
        Field(e, 1, 1); Span<byte> d = stackalloc byte[8]; BinaryPrimitives.WriteDoubleLittleEndian(d, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000.0); e.AddRange(d.ToArray());
        Field(e, 2, 0); Varint(e, (ulong)step);
        if (fileVersion is not null) { Field(e, 3, 2); Bytes(e, Encoding.UTF8.GetBytes(fileVersion)); }
        if (summary is not null) { Field(e, 5, 2); Bytes(e, summary); }
        return e.ToArray();
    }

    void WriteEvent(byte[] data)
    {
        Span<byte> len = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(len, (ulong)data.Length);
        Span<byte> crc = stackalloc byte[4];
        _file.Write(len);
        BinaryPrimitives.WriteUInt32LittleEndian(crc, MaskedCrc(len)); _file.Write(crc);
        _file.Write(data);
        BinaryPrimitives.WriteUInt32LittleEndian(crc, MaskedCrc(data)); _file.Write(crc);
    }

    static void Field(List<byte> b, int number, int wireType) => Varint(b, (ulong)((number << 3) | wireType));
    static void Bytes(List<byte> b, byte[] data) { Varint(b, (ulong)data.Length); b.AddRange(data); }
    static void Varint(List<byte> b, ulong v)
    {
        while (v >= 0x80) { b.Add((byte)(v | 0x80)); v >>= 7; }
        b.Add((byte)v);
    }

    static readonly uint[] Table = Enumerable.Range(0, 256).Select(i =>
    {
        uint c = (uint)i;
        for (int k = 0; k < 8; k++) c = (c & 1) != 0 ? 0x82F63B78u ^ (c >> 1) : c >> 1;
        return c;
    }).ToArray();

    /// <summary>CRC-32C (Castagnoli).</summary>
    public static uint Crc32C(ReadOnlySpan<byte> data)
    {
        uint crc = 0xFFFFFFFFu;
        foreach (var b in data) crc = Table[(crc ^ b) & 0xFF] ^ (crc >> 8);
        return crc ^ 0xFFFFFFFFu;
    }

    static uint MaskedCrc(ReadOnlySpan<byte> data)
    {
        uint crc = Crc32C(data);
        return ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
    }

    public void Dispose() => _file.Dispose();
}
