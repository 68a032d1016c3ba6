using System.Runtime.InteropServices;

namespace MaskRcnn.Runtime;

/// <summary>What <see cref="NativeRuntime.Initialize"/> found and did.</summary>
/// <param name="Status">'not-linux', 'not-needed' (libstdc++ has GLIBCXX_3.4.32), 'applied' or 'disabled'.</param>
/// <param name="LibTorchSharp">The libLibTorchSharp.so that TorchSharp loads.</param>
/// <param name="Shim">The shim library loaded, when the fix was applied.</param>
/// <param name="Detail">One human sentence.</param>
public sealed record NativeRuntimeReport(string Status, string? LibTorchSharp, string? Shim, string Detail);

/// <summary>The native libraries could not be made loadable; the message says why and what to do.</summary>
public sealed class NativeRuntimeException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// Makes TorchSharp's native library load on distributions whose libstdc++ predates GCC 13 (Debian 12:
/// GLIBCXX_3.4.30). TorchSharp 0.107's libLibTorchSharp.so needs GLIBCXX_3.4.32 for a single function,
/// <c>std::ios_base_library_init()</c>. Where that version is missing, this
/// (1) marks the GLIBCXX_3.4.32 requirement weak in the output copy of libLibTorchSharp.so (written to a
///     temporary file and renamed over, so a hard link into the NuGet cache is never modified), and
/// (2) loads, RTLD_NOW | RTLD_GLOBAL, our shim libmaskrcnn_glibcxx_shim.so that defines the function, then
///     libLibTorchSharp.so itself by full path, so TorchSharp finds it already loaded.
/// Call <see cref="Initialize"/> before the first TorchSharp call (the CLI, the tests and the notebooks do);
/// it is idempotent, thread-safe, and a no-op where libstdc++ already has GLIBCXX_3.4.32.
/// <see cref="RuntimeOptions.NativeFix"/> (MASKRCNN_NATIVE_FIX=0) skips it. It first lets <see cref="MklDispatch"/>
/// steer oneMKL, which must happen before libtorch is loaded too.
/// </summary>
public static class NativeRuntime
{
    const string NeededVersion = "GLIBCXX_3.4.32";
    const string NeededSymbol = "_ZSt21ios_base_library_initv";
    const string LibStdCxx = "libstdc++.so.6";

    /// <summary>File name of the shim, shipped next to MaskRcnn.Core.dll.</summary>
    public const string ShimFileName = "libmaskrcnn_glibcxx_shim.so";

    static readonly object Gate = new();
    static NativeRuntimeReport? _report;

    /// <summary>The result of the first successful <see cref="Initialize"/>, or null before it.</summary>
    public static NativeRuntimeReport? Report => _report;

    /// <summary>Prepares the native libraries; throws <see cref="NativeRuntimeException"/> with a clear message when it
    /// cannot.</summary>
    public static NativeRuntimeReport Initialize()
    {
        if (_report is not null)
            return _report;
        lock (Gate)
        {
            return _report ??= InitializeCore();
        }
    }

    static NativeRuntimeReport InitializeCore()
    {
        MklDispatch.Apply(); // before anything loads libtorch
        OneDnnIsa.Apply();
        if (!OperatingSystem.IsLinux())
            return new("not-linux", null, null, "Not Linux: TorchSharp loads its natives itself.");
        if (!RuntimeOptions.NativeFix)
            return new("disabled", null, null, $"{RuntimeOptions.NativeFixVariable}=0: the GLIBCXX fix was skipped.");

        string torchDir =
            Path.GetDirectoryName(typeof(TorchSharp.torch).Assembly.Location)
            ?? throw new NativeRuntimeException("Cannot tell where TorchSharp.dll was loaded from.");
        string libTorchSharp = FindLibTorchSharp(torchDir);

        if (Dl.LibraryHasVersionedSymbol(LibStdCxx, NeededSymbol, NeededVersion))
            return new("not-needed", libTorchSharp, null, $"{LibStdCxx} provides {NeededVersion}; nothing to do.");

        MarkRequirementWeak(libTorchSharp);

        string ourDir = Path.GetDirectoryName(typeof(NativeRuntime).Assembly.Location) ?? torchDir;
        string shim =
            new[] { ourDir, torchDir }.Select(d => Path.Combine(d, ShimFileName)).FirstOrDefault(File.Exists)
            ?? throw new NativeRuntimeException(
                $"The GLIBCXX shim '{ShimFileName}' is missing next to MaskRcnn.Core.dll ({ourDir}). Rebuild the "
                    + "project (it is copied from lib/MaskRcnn/Runtime/Native/) or run environment/build-shim.sh."
            );
        Dl.OpenGlobal(shim, "the GLIBCXX shim");
        Dl.OpenGlobal(libTorchSharp, "TorchSharp's native library");
        return new(
            "applied",
            libTorchSharp,
            shim,
            $"{LibStdCxx} lacks {NeededVersion}: marked it weak in {Path.GetFileName(libTorchSharp)} and loaded "
                + $"{ShimFileName}."
        );
    }

    static string FindLibTorchSharp(string torchDir) =>
        FindNextToTorchSharp("libLibTorchSharp.so")
        ?? throw new NativeRuntimeException(
            $"libLibTorchSharp.so was not found next to TorchSharp.dll ({torchDir}). Build the project for "
                + "linux-x64 (Directory.Build.props sets RuntimeIdentifier) and load MaskRcnn from its build output "
                + "(artifacts/bin/...), not from a NuGet reference to TorchSharp."
        );

    /// <summary>The full path a shared library with this file name is mapped from in this process (/proc/self/maps), or
    /// null.</summary>
    internal static string? LoadedPath(string fileName)
    {
        try
        {
            return File.ReadLines("/proc/self/maps")
                .Select(line => line.IndexOf('/') is int i and >= 0 ? line[i..] : "")
                .FirstOrDefault(path => path.EndsWith("/" + fileName, StringComparison.Ordinal));
        }
        catch (IOException)
        {
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>
    /// A handle to libtorch_cpu.so, for looking up functions TorchSharp does not bind (oneMKL's, autocast's): the copy
    /// TorchSharp loaded (it is made to load first, after <see cref="Initialize"/>), never a second one — two copies
    /// in one process abort ("Tried to register multiple backend fallbacks"). False where it cannot be opened.
    /// </summary>
    internal static bool TryLoadLibTorchCpu(out nint handle)
    {
        Initialize();
        _ = TorchSharp.torch.get_num_threads(); // TorchSharp loads libtorch
        string lib = LoadedPath("libtorch_cpu.so") ?? FindNextToTorchSharp("libtorch_cpu.so") ?? "libtorch_cpu.so";
        return NativeLibrary.TryLoad(lib, out handle);
    }

    /// <summary>
    /// The addresses of functions libtorch_cpu.so exports (C names, or Itanium C++ ABI names for libtorch's own), in
    /// the order asked; null on a platform other than Linux, or where libtorch or any one of them is missing.
    /// </summary>
    internal static nint[]? LibTorchExports(params string[] names)
    {
        if (!OperatingSystem.IsLinux() || !TryLoadLibTorchCpu(out var handle))
            return null;
        var addresses = new nint[names.Length];
        for (int i = 0; i < names.Length; i++)
            if (!NativeLibrary.TryGetExport(handle, names[i], out addresses[i]))
                return null;
        return addresses;
    }

    /// <summary>A native file of TorchSharp's (libLibTorchSharp.so, libtorch_cpu.so, ...) by full path, or
    /// null.</summary>
    internal static string? FindNextToTorchSharp(string fileName)
    {
        string? torchDir = Path.GetDirectoryName(typeof(TorchSharp.torch).Assembly.Location);
        if (torchDir is null)
            return null;
        return new[] { torchDir, Path.Combine(torchDir, "runtimes", "linux-x64", "native") }
            .Select(d => Path.Combine(d, fileName))
            .FirstOrDefault(File.Exists);
    }

    /// <summary>Marks GLIBCXX_3.4.32 weak in the file, atomically; no write when it already is.</summary>
    static void MarkRequirementWeak(string path)
    {
        byte[] bytes = File.ReadAllBytes(path);
        var req = ElfVersionNeeds.Read(bytes).FirstOrDefault(r => r.File == LibStdCxx && r.Version == NeededVersion);
        if (req.File is null || req.IsWeak)
            return; // not required by this build, or already patched

        ElfVersionNeeds.MarkWeak(bytes, LibStdCxx, NeededVersion);
        string tmp = $"{path}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp";
        try
        {
            File.WriteAllBytes(tmp, bytes);
            if (!OperatingSystem.IsWindows())
                File.SetUnixFileMode(tmp, File.GetUnixFileMode(path));
            File.Move(tmp, path, overwrite: true); // rename(2): readers see the old or the new file, never half
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            try
            {
                File.Delete(tmp);
            }
            catch
            { /* best effort */
            }
            throw new NativeRuntimeException(
                $"This system's {LibStdCxx} lacks {NeededVersion}, which TorchSharp's '{path}' requires, and that "
                    + $"file could not be patched ({e.Message}). Make its folder writable and run once more (the "
                    + "patched file is kept, so later runs need no write access), or run environment/setup.sh.",
                e
            );
        }
    }
}
