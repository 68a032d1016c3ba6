using System.Runtime.InteropServices;

namespace MaskRcnn.IO;

/// <summary>
/// The two POSIX calls .NET does not expose: a file's type (<c>stat</c>: a FIFO or a device is not a file to read)
/// and record locks (<c>lockf</c>: a run folder's lock, which the kernel releases when its process ends). Linux only
/// (glibc's <c>struct stat</c> on x86-64 and arm64); elsewhere every path counts as a regular file and locks fall back
/// to .NET's exclusive sharing mode.
/// </summary>
static partial class Posix
{
    public static bool Supported { get; } =
        OperatingSystem.IsLinux() && RuntimeInformation.ProcessArchitecture is Architecture.X64 or Architecture.Arm64;

    /// <summary>What a path names, following symbolic links.</summary>
    public enum FileKind
    {
        Missing,
        Regular,
        Directory,

        /// <summary>A FIFO, socket or device (/dev/zero): reading it may never end.</summary>
        Special,
    }

    const uint TypeMask = 0xF000,
        RegularType = 0x8000,
        DirectoryType = 0x4000;

    /// <summary>The kind of file at <paramref name="path"/> and its inode (0 where unknown).</summary>
    public static (FileKind Kind, ulong Inode) Stat(string path)
    {
        if (!Supported)
            return (
                Directory.Exists(path) ? FileKind.Directory
                : File.Exists(path) ? FileKind.Regular
                : FileKind.Missing,
                0UL
            );
        Span<byte> buffer = stackalloc byte[256]; // struct stat: 144 bytes on x86-64, 128 on arm64
        if (StatCall(path, buffer) != 0)
            return (FileKind.Missing, 0);
        return (KindOf(ModeOf(buffer)), InodeOf(buffer));
    }

    /// <summary>The inode of an open file (0 where unknown).</summary>
    public static ulong Inode(SafeHandle file)
    {
        if (!Supported)
            return 0;
        Span<byte> buffer = stackalloc byte[256];
        int fd = (int)file.DangerousGetHandle();
        int result;
        try
        {
            result = FStat(fd, buffer);
        }
        catch (EntryPointNotFoundException)
        {
            result = FXStat(RuntimeInformation.ProcessArchitecture == Architecture.X64 ? 1 : 0, fd, buffer);
        }
        return result == 0 ? InodeOf(buffer) : 0;
    }

    // glibc's struct stat: st_dev (8 bytes), st_ino (8), then x86-64: st_nlink (8), st_mode (4); arm64: st_mode (4).
    static uint ModeOf(ReadOnlySpan<byte> stat) =>
        BitConverter.ToUInt32(stat[(RuntimeInformation.ProcessArchitecture == Architecture.X64 ? 24 : 16)..]);

    static ulong InodeOf(ReadOnlySpan<byte> stat) => BitConverter.ToUInt64(stat[8..]);

    static FileKind KindOf(uint mode) =>
        (mode & TypeMask) switch
        {
            RegularType => FileKind.Regular,
            DirectoryType => FileKind.Directory,
            _ => FileKind.Special,
        };

    static int StatCall(string path, Span<byte> buffer)
    {
        try
        {
            return StatNative(path, buffer);
        }
        catch (EntryPointNotFoundException)
        {
            // glibc before 2.33 exports stat only as __xstat(version, …): 1 on x86-64, 0 on arm64.
            return XStat(RuntimeInformation.ProcessArchitecture == Architecture.X64 ? 1 : 0, path, buffer);
        }
    }

    /// <summary>
    /// Takes an exclusive record lock on a whole open file without waiting: true when taken, false when another
    /// process holds one. The lock is released when the file is closed or its process ends, however it ends.
    /// </summary>
    public static bool TryLockWholeFile(SafeHandle file)
    {
        const int TestAndLock = 2; // F_TLOCK
        if (LockF((int)file.DangerousGetHandle(), TestAndLock, 0) == 0)
            return true;
        int errno = Marshal.GetLastPInvokeError();
        const int Again = 11,
            Access = 13;
        if (errno is Again or Access)
            return false;
        throw new IOException($"lockf failed (errno {errno})");
    }

    [LibraryImport("libc", EntryPoint = "stat", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int StatNative(string path, Span<byte> buffer);

    [LibraryImport("libc", EntryPoint = "__xstat", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int XStat(int version, string path, Span<byte> buffer);

    [LibraryImport("libc", EntryPoint = "fstat")]
    private static partial int FStat(int fd, Span<byte> buffer);

    [LibraryImport("libc", EntryPoint = "__fxstat")]
    private static partial int FXStat(int version, int fd, Span<byte> buffer);

    [LibraryImport("libc", EntryPoint = "lockf", SetLastError = true)]
    private static partial int LockF(int fd, int command, long length);
}
