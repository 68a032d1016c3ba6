namespace MaskRcnn.IO;

/// <summary>
/// Every file the library reads passes here first: it must exist, be a regular file (not a folder, FIFO, socket or
/// device such as /dev/zero, whose reading never ends or waits for ever) and fit its budget, so that one input cannot
/// hang the process or exhaust its memory. Errors are one <see cref="MaskRcnnException"/> naming the file.
/// </summary>
public static class InputFile
{
    /// <summary>
    /// The budget of a JSON data file (VIA annotations, COCO ground truth and results): 128 MiB, about 700 times the
    /// bundled phantoms' largest annotation file. Parsed, such a file takes a few GB of memory.
    /// </summary>
    public const long MaxJsonBytes = 128L << 20;

    /// <summary>
    /// The budget of a weights file (.pth, .safetensors, checkpoints, .h5): 4 GiB, 16 times a ResNet-101 Mask R-CNN
    /// checkpoint with its optimizer state; the whole file is held in memory while it loads.
    /// </summary>
    public const long MaxWeightsBytes = 4L << 30;

    /// <summary>The budget of a configuration file (a few KB in practice).</summary>
    public const long MaxConfigBytes = 1L << 20;

    /// <summary>True when <paramref name="path"/> names a regular file (symbolic links followed).</summary>
    public static bool IsRegularFile(string path) => Posix.Stat(path).Kind == Posix.FileKind.Regular;

    /// <summary>
    /// Checks that <paramref name="path"/> is a regular file (symbolic links followed) of at most
    /// <paramref name="maxBytes"/> bytes; <paramref name="what"/> names it in errors ("annotation file").
    /// </summary>
    public static void Check(string path, string what, long maxBytes = long.MaxValue)
    {
        var (kind, _) = Posix.Stat(path);
        switch (kind)
        {
            case Posix.FileKind.Missing:
                throw new MaskRcnnException($"{what} not found: {path}");
            case Posix.FileKind.Directory:
                throw new MaskRcnnException($"{path}: a folder, not a file ({what})");
            case Posix.FileKind.Special:
                throw new MaskRcnnException(
                    $"{path}: not a regular file but a device, FIFO or socket, whose reading may never end; refused "
                        + $"({what})"
                );
        }
        long length = new FileInfo(path).Length;
        if (length > maxBytes)
            throw new MaskRcnnException(
                $"{path}: {length:N0} bytes exceeds the budget of {maxBytes:N0} bytes ({what}); refused"
            );
    }

    /// <summary>The whole file as UTF-8 text, after <see cref="Check"/>; read with a bound, since a file may grow
    /// between the check and the read.</summary>
    public static string ReadAllText(string path, string what, long maxBytes)
    {
        Check(path, what, maxBytes);
        try
        {
            using var stream = File.OpenRead(path);
            using var bounded = new MemoryStream();
            var buffer = new byte[1 << 16];
            int n;
            while ((n = stream.Read(buffer)) > 0)
            {
                if (bounded.Length + n > maxBytes)
                    throw new MaskRcnnException(
                        $"{path}: grew past the budget of {maxBytes:N0} bytes ({what}) while read; refused"
                    );
                bounded.Write(buffer, 0, n);
            }
            bounded.Position = 0;
            using var reader = new StreamReader(
                bounded,
                System.Text.Encoding.UTF8,
                detectEncodingFromByteOrderMarks: true
            );
            return reader.ReadToEnd();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new MaskRcnnException($"{path}: {e.Message}", e);
        }
    }
}
