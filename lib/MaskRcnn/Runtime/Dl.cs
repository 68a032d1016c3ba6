using System.Runtime.InteropServices;

namespace MaskRcnn.Runtime;

/// <summary>dlopen/dlvsym through glibc (libc.so.6 on glibc ≥ 2.34, libdl.so.2 before).</summary>
internal static unsafe class Dl
{
    const int RtldNow = 0x2,
        RtldGlobal = 0x100;

    static readonly delegate* unmanaged<byte*, int, nint> DlOpen;
    static readonly delegate* unmanaged<nint, byte*, byte*, nint> DlVSym;
    static readonly delegate* unmanaged<byte*> DlError;

    static Dl()
    {
        foreach (var name in new[] { "libc.so.6", "libdl.so.2" })
        {
            if (!NativeLibrary.TryLoad(name, out var lib))
                continue;
            if (
                NativeLibrary.TryGetExport(lib, "dlopen", out var open)
                && NativeLibrary.TryGetExport(lib, "dlvsym", out var vsym)
                && NativeLibrary.TryGetExport(lib, "dlerror", out var error)
            )
            {
                DlOpen = (delegate* unmanaged<byte*, int, nint>)open;
                DlVSym = (delegate* unmanaged<nint, byte*, byte*, nint>)vsym;
                DlError = (delegate* unmanaged<byte*>)error;
                return;
            }
        }
        throw new NativeRuntimeException(
            "Neither libc.so.6 nor libdl.so.2 exports dlopen/dlvsym; is this glibc Linux?"
        );
    }

    public static bool LibraryHasVersionedSymbol(string library, string symbol, string version)
    {
        nint handle = Open(library, RtldNow);
        if (handle == 0)
            throw new NativeRuntimeException($"Cannot load {library}: {LastError()}");
        fixed (byte* s = NullTerminated(symbol))
        fixed (byte* v = NullTerminated(version))
            return DlVSym(handle, s, v) != 0;
    }

    public static void OpenGlobal(string path, string what)
    {
        if (Open(path, RtldNow | RtldGlobal) == 0)
            throw new NativeRuntimeException($"Cannot load {what} '{path}': {LastError()}");
    }

    static nint Open(string path, int flags)
    {
        fixed (byte* p = NullTerminated(path))
            return DlOpen(p, flags);
    }

    static string LastError()
    {
        byte* e = DlError();
        return e == null ? "(no dlerror message)" : Marshal.PtrToStringUTF8((nint)e) ?? "";
    }

    static byte[] NullTerminated(string s) => System.Text.Encoding.UTF8.GetBytes(s + "\0");
}
