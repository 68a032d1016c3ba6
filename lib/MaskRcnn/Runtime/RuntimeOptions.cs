namespace MaskRcnn.Runtime;

/// <summary>How the Winograd 3×3 convolutions may run (MASKRCNN_WINOGRAD).</summary>
public enum WinogradMode
{
    /// <summary>Inference and training paths where they pay (the default).</summary>
    On,

    /// <summary>MASKRCNN_WINOGRAD=inference: training keeps the direct convolution.</summary>
    InferenceOnly,

    /// <summary>MASKRCNN_WINOGRAD=0: the direct convolution everywhere.</summary>
    Off,
}

/// <summary>
/// Every environment variable the library, the CLI, the notebooks' set-up and the tests read, read here and nowhere
/// else: the MASKRCNN_* switches (each for diagnosis, comparison or the environment a process runs in; none changes a
/// model's results beyond float rounding), the tests' own switches, and the standard variables that say where things
/// are (caches, NuGet packages, PATH) or how glibc's malloc was tuned. A variable is read when its property is asked
/// for; the components that read it once, at start-up, say so.
/// </summary>
public static class RuntimeOptions
{
    /// <summary>
    /// MASKRCNN_NATIVE_FIX=0 skips the GLIBCXX fix of <see cref="NativeRuntime"/> (for a libstdc++ that has
    /// GLIBCXX_3.4.32, or to see TorchSharp's own error). Default: the fix is applied where it is needed.
    /// </summary>
    public static bool NativeFix => Read(NativeFixVariable) != "0";

    /// <summary>The variable behind <see cref="NativeFix"/>.</summary>
    public const string NativeFixVariable = "MASKRCNN_NATIVE_FIX";

    /// <summary>
    /// MASKRCNN_MKL_DISPATCH=vendor keeps oneMKL's own vendor check, so a non-Intel CPU stays on oneMKL's generic path
    /// (<see cref="MklDispatch"/> does not load its shim). Read once, at native start-up.
    /// </summary>
    public static bool MklVendorDispatch => Read(MklDispatchVariable) == "vendor";

    /// <summary>The variable behind <see cref="MklVendorDispatch"/>.</summary>
    public const string MklDispatchVariable = "MASKRCNN_MKL_DISPATCH";

    /// <summary>
    /// oneDNN's own ONEDNN_MAX_CPU_ISA (e.g. AVX2, AVX512_CORE): the highest instruction set of libtorch's convolution
    /// kernels. Set by the user, it is kept; unset, <see cref="OneDnnIsa"/> sets it to AVX where the CPU reports no
    /// caches. Read once, at native start-up.
    /// </summary>
    public static string? OneDnnMaxCpuIsa => Read(OneDnnIsa.Variable);

    /// <summary>
    /// MASKRCNN_WINOGRAD: 0 turns the Winograd 3×3 convolutions off (the direct convolution everywhere, e.g. to
    /// compare), inference keeps training on the direct convolution; unset, both paths run where they pay. Read once,
    /// as <see cref="Modeling.Kernels.WinogradConv2d.DefaultMode"/> (a model's layers can be set otherwise with
    /// <see cref="Modeling.Layers.UseWinograd"/>).
    /// </summary>
    public static WinogradMode Winograd =>
        Read("MASKRCNN_WINOGRAD")?.Trim().ToLowerInvariant() switch
        {
            "0" => WinogradMode.Off,
            "inference" => WinogradMode.InferenceOnly,
            _ => WinogradMode.On,
        };

    /// <summary>
    /// MASKRCNN_GLIBC_MALLOC (<see cref="MemoryRelease"/>): keep holds large blocks in glibc's heap for the whole
    /// process (as training does), default leaves glibc's allocator alone; unset (null), the steady limits apply.
    /// Lower-case, trimmed.
    /// </summary>
    public static string? GlibcMalloc => Read("MASKRCNN_GLIBC_MALLOC")?.Trim().ToLowerInvariant();

    /// <summary>
    /// MASKRCNN_GC_PAUSE=0 turns off <see cref="Runtime.GcPause"/>'s no-GC regions (for diagnosis). Read once, as
    /// <see cref="GcPause.Enabled"/>.
    /// </summary>
    public static bool GcPauseEnabled => Read("MASKRCNN_GC_PAUSE") != "0";

    /// <summary>
    /// MASKRCNN_CHARTS=static: notebook charts are the static picture only, without the interactive Plotly layer
    /// (smaller notebooks).
    /// </summary>
    public static bool InteractiveCharts => Read("MASKRCNN_CHARTS")?.Trim().ToLowerInvariant() != "static";

    /// <summary>MASKRCNN_CHARTS_DIR: a folder holding MaskRcnn.Charts.dll, searched first.</summary>
    public static string? ChartsDir => Read("MASKRCNN_CHARTS_DIR");

    /// <summary>MASKRCNN_CACHE: the cache root; downloaded weights go to its weights/ folder.</summary>
    public static string? Cache => Read("MASKRCNN_CACHE");

    /// <summary>MASKRCNN_DEBUG=1: the CLI prints the stack trace after each one-line error.</summary>
    public static bool Debug => Read("MASKRCNN_DEBUG") == "1";

    /// <summary>MASKRCNN_QUICK=1 (environment/run-notebooks.sh --quick, CI): the notebooks shrink their work.</summary>
    public static bool Quick => Read("MASKRCNN_QUICK") == "1";

    // ---- the tests' switches ----------------------------------------------------------------------------------------

    /// <summary>
    /// MASKRCNN_REQUIRE_BROWSER=1 (CI): the rendered-notebook tests fail, instead of being skipped, where no headless
    /// browser or nbconvert is installed.
    /// </summary>
    public static bool RequireBrowser => Read("MASKRCNN_REQUIRE_BROWSER") == "1";

    /// <summary>
    /// MASKRCNN_REQUIRE_EXECUTED_NOTEBOOKS=1 (CI, after environment/run-notebooks.sh): the executed-notebook tests fail,
    /// instead of being skipped, where notebooks/out/ lacks a fresh executed copy.
    /// </summary>
    public static bool RequireExecutedNotebooks => Read("MASKRCNN_REQUIRE_EXECUTED_NOTEBOOKS") == "1";

    /// <summary>MASKRCNN_REAL_VIA: a folder of real VIA files the VIA reader's tests also read (skipped when unset).</summary>
    public static string? RealViaFolder => Read("MASKRCNN_REAL_VIA");

    // ---- where things are -------------------------------------------------------------------------------------------

    /// <summary>XDG_CACHE_HOME: the user's cache root (default ~/.cache), where our weights cache lives.</summary>
    public static string? XdgCacheHome => Read("XDG_CACHE_HOME");

    /// <summary>TORCH_HOME: torch.hub's root (default ~/.cache/torch), where torchvision keeps downloaded weights.</summary>
    public static string? TorchHome => Read("TORCH_HOME");

    /// <summary>NUGET_PACKAGES: the NuGet packages folder (default ~/.nuget/packages).</summary>
    public static string? NuGetPackages => Read("NUGET_PACKAGES");

    /// <summary>The NuGet packages folder: NUGET_PACKAGES, else ~/.nuget/packages.</summary>
    public static string NuGetPackagesFolder =>
        NuGetPackages
        ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");

    /// <summary>PATH's folders, where programs are looked up.</summary>
    public static IReadOnlyList<string> ExecutableSearchPath =>
        (Read("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries);

    // ---- glibc's malloc, as the user tuned it ---------------------------------------------------------------------

    /// <summary>MALLOC_ARENA_MAX is set (glibc applies it itself; <see cref="MemoryRelease.LimitArenas"/> then does
    /// nothing).</summary>
    public static bool MallocArenaMaxSet => Environment.GetEnvironmentVariable("MALLOC_ARENA_MAX") is not null;

    /// <summary>
    /// glibc's malloc was tuned through its own variables (MALLOC_MMAP_MAX_, MALLOC_MMAP_THRESHOLD_,
    /// MALLOC_TRIM_THRESHOLD_, or a glibc.malloc.* tunable in GLIBC_TUNABLES): <see cref="MemoryRelease"/> leaves
    /// those limits alone.
    /// </summary>
    public static bool MallocTunedByUser =>
        new[] { "MALLOC_MMAP_MAX_", "MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_" }.Any(v =>
            Environment.GetEnvironmentVariable(v) is not null
        ) || (Environment.GetEnvironmentVariable("GLIBC_TUNABLES") ?? "").Contains("glibc.malloc.");

    /// <summary>The value, or null when unset or empty.</summary>
    static string? Read(string name) =>
        Environment.GetEnvironmentVariable(name) is { Length: > 0 } value ? value : null;
}
