using System.Buffers.Binary;
using System.Text;

namespace MaskRcnn.Tests.Training;

/// <summary>
/// Reads a TensorBoard event file as TensorBoard does: TFRecords (length, masked CRC-32C, data, masked CRC-32C) around
/// Event protocol buffers, of which only the fields the tests look at are decoded.
/// </summary>
static class TensorBoardEvents
{
    /// <summary>One summary value: its tag, "scalar", "image", "histogram" or "other", and its event's wall
    /// time.</summary>
    public sealed record Value(string Tag, string Kind, double WallTime);

    /// <summary>Every summary value in the file; a record whose CRC does not check out fails the test.</summary>
    public static List<Value> Read(string path)
    {
        var bytes = File.ReadAllBytes(path);
        var values = new List<Value>();
        for (int p = 0; p < bytes.Length; )
        {
            int length = checked((int)BinaryPrimitives.ReadUInt64LittleEndian(bytes.AsSpan(p)));
            Assert.Equal(Masked(bytes.AsSpan(p, 8)), BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(p + 8)));
            var data = bytes.AsSpan(p + 12, length);
            Assert.Equal(Masked(data), BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(p + 12 + length)));
            values.AddRange(Event(data.ToArray()));
            p += 12 + length + 4;
        }
        return values;
    }

    /// <summary>Event: 1 wall_time (double), 5 summary { 1 value { 1 tag, 2 simple_value, 4 image, 5 histo }
    /// }.</summary>
    static IEnumerable<Value> Event(byte[] e)
    {
        double wallTime = 0;
        var summaries = new List<byte[]>();
        foreach (var (field, wire, payload) in Fields(e))
        {
            if (field == 1 && wire == 1)
                wallTime = BitConverter.ToDouble(payload);
            if (field == 5 && wire == 2)
                summaries.Add(payload);
        }
        foreach (var summary in summaries)
        foreach (var (field, _, value) in Fields(summary))
        {
            if (field != 1)
                continue;
            string tag = "";
            string kind = "other";
            foreach (var (f, _, v) in Fields(value))
            {
                if (f == 1)
                    tag = Encoding.UTF8.GetString(v);
                kind = f switch
                {
                    2 => "scalar",
                    4 => "image",
                    5 => "histogram",
                    _ => kind,
                };
            }
            yield return new Value(tag, kind, wallTime);
        }
    }

    static IEnumerable<(int Field, int Wire, byte[] Payload)> Fields(byte[] message)
    {
        int p = 0;
        while (p < message.Length)
        {
            ulong key = Varint(message, ref p);
            int field = (int)(key >> 3);
            int wire = (int)(key & 7);
            int length = wire switch
            {
                0 => 0,
                1 => 8,
                2 => (int)Varint(message, ref p),
                5 => 4,
                _ => throw new InvalidDataException($"wire type {wire}"),
            };
            if (wire == 0)
            {
                int start = p;
                Varint(message, ref p);
                yield return (field, wire, message[start..p]);
                continue;
            }
            yield return (field, wire, message[p..(p + length)]);
            p += length;
        }
    }

    static ulong Varint(byte[] b, ref int p)
    {
        ulong value = 0;
        for (int shift = 0; ; shift += 7)
        {
            byte next = b[p++];
            value |= (ulong)(next & 0x7F) << shift;
            if (next < 0x80)
                return value;
        }
    }

    static readonly uint[] Table = Enumerable
        .Range(0, 256)
        .Select(i =>
        {
            uint c = (uint)i;
            for (int k = 0; k < 8; k++)
                c = (c & 1) != 0 ? 0x82F63B78u ^ (c >> 1) : c >> 1;
            return c;
        })
        .ToArray();

    /// <summary>CRC-32C (Castagnoli), as TFRecord frames use it.</summary>
    public static uint Crc32C(ReadOnlySpan<byte> data)
    {
        uint crc = 0xFFFFFFFFu;
        foreach (var b in data)
            crc = Table[(crc ^ b) & 0xFF] ^ (crc >> 8);
        return crc ^ 0xFFFFFFFFu;
    }

    static uint Masked(ReadOnlySpan<byte> data)
    {
        uint crc = Crc32C(data);
        return ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
    }
}
