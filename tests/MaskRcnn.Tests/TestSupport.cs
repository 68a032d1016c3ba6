using System.Diagnostics;
using System.Reflection;
using System.Runtime.CompilerServices;
using MaskRcnn.Runtime;

namespace MaskRcnn.Tests;

[AttributeUsage(AttributeTargets.Assembly)]
public sealed class RepoRootAttribute(string path) : Attribute
{
    public string Path { get; } = path;
}

[AttributeUsage(AttributeTargets.Assembly)]
public sealed class BuildConfigurationAttribute(string name) : Attribute
{
    public string Name { get; } = name;
}

static class TestSupport
{
    /// <summary>Native start-up before any test touches TorchSharp, and the allocator policy, as the CLI
    /// starts.</summary>
    [ModuleInitializer]
    internal static void InitializeNatives()
    {
        TorchEnvironment.Initialize();
        MemoryRelease.TuneAllocator();
    }

    public static string RepoRoot { get; } = typeof(TestSupport).Assembly.GetCustomAttribute<RepoRootAttribute>()!.Path;

    public static string Configuration { get; } =
        typeof(TestSupport).Assembly.GetCustomAttribute<BuildConfigurationAttribute>()!.Name;

    public static string CliDll =>
        Path.Combine(RepoRoot, "artifacts", "bin", "MaskRcnn.Cli", Configuration, "maskrcnn.dll");

    /// <summary>A fresh folder under the system temp directory, deleted when disposed.</summary>
    public sealed class TempDir : IDisposable
    {
        public string Path { get; } = Directory.CreateTempSubdirectory("maskrcnn-test-").FullName;
        public string this[string name] => System.IO.Path.Combine(Path, name);

        public void Dispose()
        {
            try
            {
                Directory.Delete(Path, recursive: true);
            }
            catch { }
        }
    }

    /// <summary>Runs the built CLI (the public contract) and returns exit code, stdout and stderr.</summary>
    public static (int Code, string Out, string Err) RunCli(params string[] args) => RunCliWithEnvironment([], args);

    /// <param name="environment">NAME=value pairs added to the CLI's environment</param>
    public static (int Code, string Out, string Err) RunCliWithEnvironment(
        string[] environment,
        params string[] args
    ) => Run("dotnet", [CliDll, .. args], environment);

    /// <summary>Runs a program to its end (at most 20 minutes) and returns exit code, stdout and stderr.</summary>
    /// <param name="environment">NAME=value pairs added to its environment</param>
    public static (int Code, string Out, string Err) Run(string program, string[] args, string[]? environment = null)
    {
        var psi = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var pair in environment ?? [])
            psi.Environment[pair[..pair.IndexOf('=')]] = pair[(pair.IndexOf('=') + 1)..];
        foreach (var a in args)
            psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(TimeSpan.FromMinutes(20)))
        {
            p.Kill(true);
            throw new TimeoutException($"{program} {string.Join(' ', args)}");
        }
        return (p.ExitCode, stdout.Result, stderr.Result);
    }
}
