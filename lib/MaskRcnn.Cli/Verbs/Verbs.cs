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

    /// <summary>
    /// --precision fp32|bf16 (also float32/bfloat16, any case: the names <see cref="ComputePrecisionNames.Parse"/>
    /// and a config's training.precision take). predict, evaluate and benchmark default to fp32; train passes no
    /// default, so that the configuration's value stands unless the option is given.
    /// </summary>
    public static Option<string?> PrecisionOption(string description, string? defaultValue)
    {
        var option = new Option<string?>("--precision") { Description = description };
        if (defaultValue is not null) option.DefaultValueFactory = _ => defaultValue;
        option.CompletionSources.Add("fp32", "bf16");
        option.Validators.Add(result =>
        {
            string? value = result.GetValueOrDefault<string?>();
            if (value is not null && ComputePrecisionNames.TryParse(value) is null)
                result.AddError($"unknown precision '{value}' for --precision (fp32 or bf16)");
        });
        return option;
    }

    /// <summary>--precision for inference (predict, evaluate, benchmark): fp32 unless given.</summary>
    public static Option<string?> InferencePrecisionOption() => PrecisionOption(
        "fp32 (default: torchvision's results) or bf16 (convolutions and linear layers in bfloat16: " +
        "~1.5x faster on CPUs with AVX512_BF16/AMX, slightly different scores; see `maskrcnn version`)", "fp32");

    static bool IsUserError(Exception e) =>
        e is NativeRuntimeException or ArgumentException or NotSupportedException or FileNotFoundException or DirectoryNotFoundException
          or InvalidDataException or IOException or UnauthorizedAccessException or MaskRcnnException;
}
