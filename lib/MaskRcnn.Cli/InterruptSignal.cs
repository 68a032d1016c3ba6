using System.Runtime.InteropServices;

namespace MaskRcnn.Cli;

/// <summary>
/// SIGINT as a terminal gives it. A program started in the background by a non-interactive shell (<c>cmd &amp;</c> in a
/// script, nohup, some CI runners) inherits SIGINT ignored, and .NET then never reports it: <c>train</c> would go on
/// through Ctrl+C-style signals (<c>kill -INT</c>, a job runner's interrupt). The CLI restores SIGINT's default
/// disposition first thing, before .NET installs its own handlers, so that <c>train</c> stops on SIGINT as on SIGTERM
/// (README.md, "Signals").
/// </summary>
static class InterruptSignal
{
    const int SIGINT = 2;
    static readonly nint SIG_DFL = 0;

    [DllImport("libc", EntryPoint = "signal")]
    static extern nint Signal(int signal, nint handler);

    /// <summary>Sets SIGINT's disposition to the default (Linux and macOS; elsewhere nothing).</summary>
    public static void RestoreDefault()
    {
        if (OperatingSystem.IsLinux() || OperatingSystem.IsMacOS())
            Signal(SIGINT, SIG_DFL);
    }
}
