using System.Text;
using System.Text.RegularExpressions;

namespace MaskRcnn.IO;

/// <summary>
/// Every file the library and the CLI write is written whole or not at all: into a temporary file of a name no one
/// else uses (<c>PATH.PID.RANDOM.tmp</c>, created exclusively, so no existing file is ever overwritten by it) in the
/// same folder, flushed to disk, then renamed over PATH. A full disk, an error or an exception in the middle leaves the
/// previous PATH as it was and removes the temporary; a kill leaves at most the temporary, which
/// <see cref="IsTemporary"/> recognises.
/// </summary>
public static partial class AtomicFile
{
    /// <summary>
    /// Writes <paramref name="path"/> with <paramref name="write"/>, atomically. A symbolic link is followed (the file
    /// it names is replaced, the link stays); a device or FIFO (<c>/dev/stdout</c>, a pipe) is written to directly, as
    /// a stream cannot be replaced.
    /// </summary>
    public static void Write(string path, Action<Stream> write)
    {
        string full = Path.GetFullPath(path);
        var (kind, _) = Posix.Stat(full); // through links
        if (kind == Posix.FileKind.Directory)
            throw new MaskRcnnException($"{path} is a folder; give a file name to write");
        if (kind == Posix.FileKind.Special)
        {
            using var stream = new FileStream(full, FileMode.Open, FileAccess.Write);
            write(stream);
            return;
        }
        if (
            kind == Posix.FileKind.Regular
            && new FileInfo(full).ResolveLinkTarget(returnFinalTarget: true) is { } target
        )
            full = target.FullName;
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        string temporary = TemporaryName(full);
        try
        {
            using (
                var stream = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16)
            )
            {
                write(stream);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temporary, full, overwrite: true);
        }
        catch
        {
            try
            {
                File.Delete(temporary);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
            throw;
        }
    }

    /// <summary>Writes <paramref name="text"/> as UTF-8 (no byte-order mark), atomically.</summary>
    public static void WriteAllText(string path, string text) =>
        Write(path, stream => stream.Write(new UTF8Encoding(false).GetBytes(text)));

    /// <summary>Writes <paramref name="bytes"/>, atomically.</summary>
    public static void WriteAllBytes(string path, ReadOnlySpan<byte> bytes)
    {
        var copy = bytes.ToArray();
        Write(path, stream => stream.Write(copy));
    }

    /// <summary>Copies the file <paramref name="source"/> to <paramref name="path"/>, atomically.</summary>
    public static void Copy(string source, string path)
    {
        InputFile.Check(source, "file to copy");
        Write(
            path,
            stream =>
            {
                using var input = File.OpenRead(source);
                input.CopyTo(stream);
            }
        );
    }

    /// <summary>A temporary name for <paramref name="path"/> that no other writer (process or call) uses.</summary>
    public static string TemporaryName(string path) =>
        $"{path}.{Environment.ProcessId}.{Convert.ToHexStringLower(Guid.NewGuid().ToByteArray()[..4])}.tmp";

    /// <summary>
    /// True for a temporary of <see cref="Write"/> for a file named <paramref name="target"/> (a file name, no
    /// folder): what a kill during the write leaves. Also the older <c>NAME.PID.tmp</c> form.
    /// </summary>
    public static bool IsTemporary(string fileName, string target) =>
        fileName.StartsWith(target + ".", StringComparison.Ordinal)
        && TemporarySuffix().IsMatch(fileName[target.Length..]);

    [GeneratedRegex(@"^\.\d+(\.[0-9a-f]{8})?\.tmp$")]
    private static partial Regex TemporarySuffix();
}
