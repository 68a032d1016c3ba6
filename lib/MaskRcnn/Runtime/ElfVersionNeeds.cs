using System.Buffers.Binary;
using System.Text;

namespace MaskRcnn.Runtime;

/// <summary>
/// Reads and edits the version-needs table (<c>.gnu.version_r</c>) of a 64-bit little-endian ELF shared
/// library. Each entry names a library (<c>libstdc++.so.6</c>) and the symbol versions needed from it
/// (<c>GLIBCXX_3.4.32</c>); an entry whose flags carry <see cref="WeakFlag"/> does not stop the library from
/// loading when that version is missing.
/// </summary>
public static class ElfVersionNeeds
{
    /// <summary>VER_FLG_WEAK from elf.h.</summary>
    public const ushort WeakFlag = 0x2;
    const uint ShtGnuVerneed = 0x6ffffffe;

    /// <summary>One (library, version) requirement and where its flags live in the file.</summary>
    public readonly record struct Requirement(string File, string Version, ushort Flags, long FlagsOffset)
    {
        public bool IsWeak => (Flags & WeakFlag) != 0;
    }

    /// <summary>Every version requirement in the file; empty when the file is not a 64-bit LE ELF or has
    /// none.</summary>
    public static IReadOnlyList<Requirement> Read(ReadOnlySpan<byte> elf)
    {
        var result = new List<Requirement>();
        if (
            elf.Length < 64
            || elf[0] != 0x7f
            || elf[1] != (byte)'E'
            || elf[2] != (byte)'L'
            || elf[3] != (byte)'F'
            || elf[4] != 2 /* ELFCLASS64 */
            || elf[5] != 1 /* little endian */
        )
            return result;

        long shoff = (long)U64(elf, 0x28);
        int shentsize = U16(elf, 0x3A),
            shnum = U16(elf, 0x3C);
        for (int i = 0; i < shnum; i++)
        {
            int sh = checked((int)(shoff + (long)i * shentsize));
            if (U32(elf, sh + 4) != ShtGnuVerneed)
                continue;
            int offset = checked((int)U64(elf, sh + 24));
            int link = (int)U32(elf, sh + 40),
                count = (int)U32(elf, sh + 44);
            int strtab = checked((int)U64(elf, checked((int)(shoff + (long)link * shentsize)) + 24));

            int vn = offset;
            for (int n = 0; n < count; n++)
            {
                int cnt = U16(elf, vn + 2);
                string file = CString(elf, strtab + (int)U32(elf, vn + 4));
                int aux = vn + (int)U32(elf, vn + 8);
                for (int a = 0; a < cnt; a++)
                {
                    ushort flags = U16(elf, aux + 4);
                    string version = CString(elf, strtab + (int)U32(elf, aux + 8));
                    result.Add(new Requirement(file, version, flags, aux + 4));
                    aux += (int)U32(elf, aux + 12);
                }
                vn += (int)U32(elf, vn + 12);
            }
        }
        return result;
    }

    /// <summary>
    /// Marks <paramref name="version"/> needed from <paramref name="file"/> as weak in <paramref name="elf"/>.
    /// Returns false when the file has no such requirement; true when it is (now) weak.
    /// </summary>
    public static bool MarkWeak(Span<byte> elf, string file, string version)
    {
        foreach (var r in Read(elf))
        {
            if (r.File != file || r.Version != version)
                continue;
            BinaryPrimitives.WriteUInt16LittleEndian(elf.Slice((int)r.FlagsOffset, 2), (ushort)(r.Flags | WeakFlag));
            return true;
        }
        return false;
    }

    static ushort U16(ReadOnlySpan<byte> b, int o) => BinaryPrimitives.ReadUInt16LittleEndian(b.Slice(o, 2));

    static uint U32(ReadOnlySpan<byte> b, int o) => BinaryPrimitives.ReadUInt32LittleEndian(b.Slice(o, 4));

    static ulong U64(ReadOnlySpan<byte> b, int o) => BinaryPrimitives.ReadUInt64LittleEndian(b.Slice(o, 8));

    static string CString(ReadOnlySpan<byte> b, int o)
    {
        int end = b.Slice(o).IndexOf((byte)0);
        return Encoding.ASCII.GetString(end < 0 ? b.Slice(o) : b.Slice(o, end));
    }
}
