namespace MaskRcnn.IO;

/// <summary>Another process holds the folder's lock; the message names its PID.</summary>
public sealed class FolderLockedException(string message) : MaskRcnnException(message);

/// <summary>
/// One process at a time in a run folder: an exclusive lock on <c>FOLDER/.lock</c> (which holds the owner's PID),
/// taken without waiting and held until disposed. The operating system releases it when the process ends, however it
/// ends (a crash, <c>kill -9</c>), so a lock is never left stale; the file is removed on a normal release. Re-entrant
/// within a process: the CLI takes the lock before it touches the folder and the <c>Trainer</c> takes it again.
/// </summary>
public sealed class RunLock : IDisposable
{
    /// <summary>The lock file's name inside the folder.</summary>
    public const string FileName = ".lock";

    static readonly Dictionary<string, (FileStream File, int Count)> Held = new(StringComparer.Ordinal);

    readonly string folder;
    bool released;

    RunLock(string folder) => this.folder = folder;

    /// <summary>The folder this lock holds (full path).</summary>
    public string Folder => folder;

    /// <summary>
    /// Takes the lock of <paramref name="folder"/>, creating the folder if needed; a
    /// <see cref="FolderLockedException"/> naming the holder's PID when another process has it.
    /// </summary>
    public static RunLock Acquire(string folder, string purpose = "training")
    {
        string full = Path.GetFullPath(folder).TrimEnd(Path.DirectorySeparatorChar);
        lock (Held)
        {
            if (Held.TryGetValue(full, out var held))
            {
                Held[full] = (held.File, held.Count + 1);
                return new RunLock(full);
            }
            try
            {
                Directory.CreateDirectory(full);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new MaskRcnnException($"{folder}: cannot create the folder ({e.Message})", e);
            }
            string path = Path.Combine(full, FileName);
            for (int attempt = 0; ; attempt++)
            {
                var file = Open(path, full);
                if (!TryLock(file))
                {
                    string holder = ReadHolder(file);
                    file.Dispose();
                    throw new FolderLockedException(
                        $"{folder} is in use by another maskrcnn process ({holder}); wait for it to finish or stop "
                            + $"it before {purpose} there"
                    );
                }
                // The file may have been removed by its previous holder between our open and our lock: then we hold
                // a lock on a file no one else can see. Lock the file that is at the path now.
                if (Posix.Supported && Posix.Stat(path).Inode != Posix.Inode(file.SafeFileHandle) && attempt < 5)
                {
                    file.Dispose();
                    continue;
                }
                file.SetLength(0);
                var pid = System.Text.Encoding.ASCII.GetBytes($"{Environment.ProcessId}\n");
                file.Write(pid);
                file.Flush(flushToDisk: true);
                Held[full] = (file, 1);
                return new RunLock(full);
            }
        }
    }

    /// <summary>True when this process holds the lock of <paramref name="folder"/>.</summary>
    public static bool IsHeld(string folder)
    {
        lock (Held)
            return Held.ContainsKey(Path.GetFullPath(folder).TrimEnd(Path.DirectorySeparatorChar));
    }

    static FileStream Open(string path, string folder)
    {
        try
        {
            // Not FileShare.None: .NET's own whole-file lock would stop the other process reading the holder's PID.
            return new FileStream(
                path,
                FileMode.OpenOrCreate,
                FileAccess.ReadWrite,
                FileShare.ReadWrite | FileShare.Delete
            );
        }
        catch (Exception e) when (e is UnauthorizedAccessException or IOException)
        {
            throw new MaskRcnnException($"{folder}: cannot create its lock file {FileName} ({e.Message})", e);
        }
    }

    static bool TryLock(FileStream file)
    {
        if (Posix.Supported)
            return Posix.TryLockWholeFile(file.SafeFileHandle);
        try
        {
            file.Lock(0, long.MaxValue);
            return true;
        }
        catch (IOException)
        {
            return false;
        }
    }

    static string ReadHolder(FileStream file)
    {
        try
        {
            file.Position = 0;
            var buffer = new byte[32];
            int n = file.Read(buffer);
            string text = System.Text.Encoding.ASCII.GetString(buffer, 0, n).Trim();
            return int.TryParse(text, out int pid) ? $"PID {pid}" : "PID unknown";
        }
        catch (IOException)
        {
            return "PID unknown";
        }
    }

    /// <summary>Releases this hold; the last one releases the lock and removes the lock file.</summary>
    public void Dispose()
    {
        if (released)
            return;
        released = true;
        lock (Held)
        {
            if (!Held.TryGetValue(folder, out var held))
                return;
            if (held.Count > 1)
            {
                Held[folder] = (held.File, held.Count - 1);
                return;
            }
            Held.Remove(folder);
            try
            {
                File.Delete(Path.Combine(folder, FileName)); // while still locked: no one can take a removed file's lock
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
            held.File.Dispose();
        }
    }
}
