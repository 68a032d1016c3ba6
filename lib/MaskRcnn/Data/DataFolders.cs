using MaskRcnn.IO;

namespace MaskRcnn.Data;

/// <summary>
/// Writing a data folder (<c>import-busi</c>, <c>generate-phantoms</c>) without losing one: a folder that already
/// holds data (hours of hand annotation, perhaps) is refused unless the caller says to replace it; the new splits are
/// written into a staging folder inside it and moved into place only once complete, so a failure or a kill leaves the
/// folder as it was; and the folder is locked (<see cref="RunLock"/>) while it is written.
/// </summary>
public static class DataFolders
{
    const string StagingPrefix = ".staging-",
        ReplacedPrefix = ".replaced-";

    /// <summary>What in <paramref name="dir"/> counts as data: every entry but the lock and interrupted
    /// writes.</summary>
    public static IReadOnlyList<string> HeldData(string dir)
    {
        if (!Directory.Exists(dir))
            return [];
        return Directory
            .EnumerateFileSystemEntries(dir)
            .Where(e => !IsOwn(Path.GetFileName(e)))
            .Order(StringComparer.Ordinal)
            .ToList();
    }

    static bool IsOwn(string name) =>
        name == RunLock.FileName
        || name.StartsWith(StagingPrefix, StringComparison.Ordinal)
        || name.StartsWith(ReplacedPrefix, StringComparison.Ordinal);

    /// <summary>
    /// Writes a data folder: <paramref name="write"/> fills a staging folder (given its path), whose top-level
    /// entries then replace those of the same names in <paramref name="dir"/>; other entries of
    /// <paramref name="dir"/> stay. A folder holding data is refused unless <paramref name="overwrite"/>.
    /// </summary>
    public static T Write<T>(string dir, bool overwrite, Func<string, T> write, string flag = "--overwrite")
    {
        if (File.Exists(dir))
            throw new MaskRcnnException($"{dir} is a file, not a data folder");
        bool existed = Directory.Exists(dir);
        var held = HeldData(dir);
        if (held.Count > 0 && !overwrite) // checked before the lock too: a refusal creates nothing
            throw Refusal(dir, held, flag);
        try
        {
            using var folderLock = RunLock.Acquire(dir, "writing data");
            RemoveInterrupted(dir);
            held = HeldData(dir);
            if (held.Count > 0 && !overwrite)
                throw Refusal(dir, held, flag);
            string staging = Path.Combine(dir, StagingPrefix + Suffix());
            T result;
            try
            {
                Directory.CreateDirectory(staging);
                result = write(staging);
                string replaced = Path.Combine(dir, ReplacedPrefix + Suffix());
                Directory.CreateDirectory(replaced);
                foreach (var entry in Directory.EnumerateFileSystemEntries(staging).ToList())
                {
                    string name = Path.GetFileName(entry),
                        target = Path.Combine(dir, name);
                    if (Directory.Exists(target) || File.Exists(target))
                        Move(target, Path.Combine(replaced, name));
                    Move(entry, target);
                }
                Directory.Delete(replaced, recursive: true);
            }
            finally
            {
                if (Directory.Exists(staging))
                    Directory.Delete(staging, recursive: true);
            }
            return result;
        }
        finally
        {
            // A failed write into a folder it created leaves no folder behind.
            if (!existed && Directory.Exists(dir) && !Directory.EnumerateFileSystemEntries(dir).Any())
                Directory.Delete(dir);
        }
    }

    static MaskRcnnException Refusal(string dir, IReadOnlyList<string> held, string flag)
    {
        string some =
            string.Join(", ", held.Take(3).Select(Path.GetFileName)) + (held.Count > 3 ? $", … ({held.Count})" : "");
        return new MaskRcnnException(
            $"{dir} already holds data ({some}): choose an empty or new folder, or replace its splits with {flag}"
        );
    }

    /// <summary>Staging and replaced folders a killed write left (the caller holds the lock: no one writes them).</summary>
    static void RemoveInterrupted(string dir)
    {
        foreach (var entry in Directory.EnumerateDirectories(dir).ToList())
        {
            string name = Path.GetFileName(entry);
            if (name.StartsWith(StagingPrefix, StringComparison.Ordinal))
                Directory.Delete(entry, recursive: true);
        }
        // A write killed between its two moves leaves the replaced split here, and not yet its new one: put it back.
        foreach (var replaced in Directory.EnumerateDirectories(dir, ReplacedPrefix + "*").ToList())
        {
            foreach (var entry in Directory.EnumerateFileSystemEntries(replaced).ToList())
            {
                string target = Path.Combine(dir, Path.GetFileName(entry));
                if (!Directory.Exists(target) && !File.Exists(target))
                    Move(entry, target);
            }
            Directory.Delete(replaced, recursive: true);
        }
    }

    static void Move(string from, string to)
    {
        if (Directory.Exists(from))
            Directory.Move(from, to);
        else
            File.Move(from, to);
    }

    static string Suffix() => $"{Environment.ProcessId}-{Guid.NewGuid():N}"[..24];
}
