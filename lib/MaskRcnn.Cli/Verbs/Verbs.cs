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

    /// <summary>--precision fp32|bf16 (predict, evaluate, benchmark).</summary>
    public static Option<string> PrecisionOption()
    {
        var option = new Option<string>("--precision")
        {
            Description = "fp32 (default: torchvision's results) or bf16 (convolutions and linear layers in bfloat16: " +
                          "~1.5x faster on CPUs with AVX512_BF16/AMX, slightly different scores; see `maskrcnn version`)",
            DefaultValueFactory = _ => "fp32",
        };
        option.AcceptOnlyFromAmong("fp32", "bf16");
        return option;
    }

    static bool IsUserError(Exception e) =>
        e is NativeRuntimeException or ArgumentException or NotSupportedException or FileNotFoundException or DirectoryNotFoundException
          or InvalidDataException or IOException or UnauthorizedAccessException or MaskRcnnException;
}
