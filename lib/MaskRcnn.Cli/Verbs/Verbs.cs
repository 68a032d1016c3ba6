using System.CommandLine;
using MaskRcnn.Runtime;

namespace MaskRcnn.Cli.Verbs;

/// <summary>The verb list and the error handling every verb shares.</summary>
static class Verbs
{
    public static IEnumerable<Command> All() =>
    [
        VersionVerb.Create(),
        PredictVerb.Create(),
        InspectDataVerb.Create(),
        GeneratePhantomsVerb.Create(),
        DataVerbs.ImportBusi(),
        DataVerbs.ExportCoco(),
        TrainVerb.Create(),
        EvaluateVerb.Create(),
        BenchmarkVerb.Create(),
    ];

    /// <summary>
    /// Runs a verb body: expected failures (bad input, missing files, native set-up) become one line on stderr
    /// and exit code 1 instead of a stack trace.
    /// </summary>
    public static int Run(Func<int> body)
    {
        try
        {
            return body();
        }
        catch (Exception e) when (IsUserError(e))
        {
            Console.Error.WriteLine($"error: {e.Message}");
            if (Environment.GetEnvironmentVariable("MASKRCNN_DEBUG") == "1") Console.Error.WriteLine(e);
            return 1;
        }
    }

    static bool IsUserError(Exception e) =>
        e is NativeRuntimeException or ArgumentException or FileNotFoundException or DirectoryNotFoundException
          or InvalidDataException or IOException or UnauthorizedAccessException or MaskRcnnException;
}
