using System.CommandLine;
using System.Runtime.InteropServices;
using MaskRcnn.Config;
using MaskRcnn.Data;
using MaskRcnn.Modeling.Transform;
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
            SweepVerb.Create(),
            EvaluateVerb.Create(),
            BenchmarkVerb.Create(),
        ];

    /// <summary>
    /// Runs a verb body: expected failures (bad input, missing files, native set-up) become one line on stderr
    /// and exit code 1 instead of a stack trace. So do libtorch's errors (TorchSharp throws them as
    /// ExternalException, with the C++ backtrace in the message): what escapes the checks before them is still
    /// one line, its first. MASKRCNN_DEBUG=1 adds the whole exception.
    /// </summary>
    public static int Run(Func<int> body)
    {
        try
        {
            return body();
        }
        catch (Exception e) when (IsExpected(e))
        {
            Report(e);
            return 1;
        }
    }

    /// <summary>Errors a verb reports in one line: the user's (input, files, set-up) and libtorch's.</summary>
    public static bool IsExpected(Exception e) => IsUserError(e) || e is ExternalException;

    /// <summary>
    /// "error: MESSAGE" on stderr (libtorch's: its first line), naming <paramref name="file"/> when the message
    /// does not; with MASKRCNN_DEBUG=1 the whole exception after it.
    /// </summary>
    public static void Report(Exception e, string? file = null)
    {
        string message = e is ExternalException ? $"libtorch: {FirstLine(e.Message)}" : e.Message;
        if (file is not null && !message.Contains(file))
            message = $"{file}: {message}";
        Console.Error.WriteLine($"error: {message}");
        if (Debugging)
            Console.Error.WriteLine(e);
    }

    /// <summary>MASKRCNN_DEBUG=1: stack traces after the one-line errors.</summary>
    public static bool Debugging => RuntimeOptions.Debug;

    /// <summary>The first non-empty line of a message (libtorch's messages go on with "Exception raised from
    /// …").</summary>
    public static string FirstLine(string message) =>
        message.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).FirstOrDefault()
        ?? message;

    /// <summary>
    /// A command line that does not parse: its errors on one line and where to read about the verb, instead of
    /// System.CommandLine's default (the errors buried under the whole help text). Null when it parsed.
    /// </summary>
    public static int? ReportParseErrors(ParseResult parse)
    {
        if (parse.Action is not System.CommandLine.Invocation.ParseErrorAction)
            return null;
        var command = parse.CommandResult.Command;
        string verb = command is RootCommand ? "maskrcnn" : $"maskrcnn {command.Name}";
        Console.Error.WriteLine($"error: {string.Join("; ", parse.Errors.Select(e => e.Message).Distinct())}");
        Console.Error.WriteLine($"see: {verb} --help");
        return 1;
    }

    /// <summary>
    /// The start of every verb that runs the model: the natives and libtorch's threads
    /// (<see cref="TorchEnvironment.Initialize"/>), and the allocator policy the command line opts into
    /// (<see cref="MemoryRelease.TuneAllocator"/>: calls and training steps reuse each other's memory; PERFORMANCE.md).
    /// </summary>
    public static void InitializeTorch(int threads)
    {
        TorchEnvironment.Initialize();
        // Before libtorch starts its worker threads (the order the library had before the opt-in): a thread that
        // meets contention may open its own malloc arena, and the arena cap only holds for arenas opened after it.
        MemoryRelease.TuneAllocator();
        TorchEnvironment.Initialize(threads);
    }

    /// <summary>
    /// --threads, as every verb takes it: 0 (libtorch's default) up to <see cref="TorchEnvironment.MaxThreads"/>;
    /// more only oversubscribes the cores (100000 threads took a minute to start, with no output).
    /// </summary>
    public static Option<int> ThreadsOption(string description = "libtorch threads (0: default)")
    {
        var option = new Option<int>("--threads")
        {
            Description = $"{description}; at most {TorchEnvironment.MaxThreads}",
        };
        option.Validators.Add(result =>
        {
            if (
                TryGet<int>(() => result.GetValueOrDefault<int>()) is int value
                && (value < 0 || value > TorchEnvironment.MaxThreads)
            )
                result.AddError(
                    $"--threads: {value} is outside 0..{TorchEnvironment.MaxThreads} (0: libtorch's default; "
                        + $"at most 4 per processor, {Environment.ProcessorCount} here)"
                );
        });
        return option;
    }

    /// <summary>An int option that must lie in [min, max] when given; <paramref name="unit"/> explains the
    /// bound.</summary>
    public static T Range<T>(T option, int min, int max, string? unit = null)
        where T : Option
    {
        option.Validators.Add(result =>
        {
            if (GetInt(result) is int v && (v < min || v > max))
                result.AddError($"{option.Name}: {v} is outside {min}..{max}{(unit is null ? "" : $" ({unit})")}");
        });
        return option;
    }

    /// <summary>A double option that must lie in [0, 1] when given (a score threshold).</summary>
    public static Option<double?> Fraction(Option<double?> option)
    {
        option.Validators.Add(result =>
        {
            if (TryGet(() => result.GetValueOrDefault<double?>()) is double v && !(v >= 0 && v <= 1))
                result.AddError($"{option.Name}: {v} is outside [0, 1]");
        });
        return option;
    }

    /// <summary>
    /// The value, or null where it did not convert ("--threads abc"): System.CommandLine runs validators anyway,
    /// and the conversion error is already among the parse errors.
    /// </summary>
    static T? TryGet<T>(Func<T?> get)
        where T : struct
    {
        try
        {
            return get();
        }
        catch (InvalidOperationException)
        {
            return null;
        }
    }

    static int? GetInt(System.CommandLine.Parsing.OptionResult result) =>
        result.Option switch
        {
            Option<int> => TryGet<int>(() => result.GetValueOrDefault<int>()),
            Option<int?> => TryGet(() => result.GetValueOrDefault<int?>()),
            _ => throw new ArgumentException($"{result.Option.Name} is not an int option"),
        };

    /// <summary>
    /// The side in pixels that min_size / max_size (--min-size, --max-size, --size) may reach: the model input's
    /// memory budget (<see cref="MaskRcnnConfig.MaxImageSide"/>; README "What the CLI guarantees").
    /// </summary>
    public static string SizeBudget => $"the model's input is at most {MaskRcnnConfig.MaxImageSide} px a side";

    /// <summary>
    /// --precision fp32|bf16 (also float32/bfloat16, any case: the names <see cref="ComputePrecisionNames.Parse"/>
    /// and a config's training.precision take). predict, evaluate and benchmark default to fp32; train passes no
    /// default, so that the configuration's value stands unless the option is given.
    /// </summary>
    public static Option<string?> PrecisionOption(string description, string? defaultValue)
    {
        var option = new Option<string?>("--precision") { Description = description };
        if (defaultValue is not null)
            option.DefaultValueFactory = _ => defaultValue;
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
    public static Option<string?> InferencePrecisionOption() =>
        PrecisionOption(
            "fp32 (default: torchvision's results) or bf16 (convolutions and linear layers in bfloat16: "
                + "~1.5x faster on CPUs with AVX512_BF16/AMX, slightly different scores; see `maskrcnn version`)",
            "fp32"
        );

    /// <summary>
    /// The dataset without the images the model's resize cannot take (a side under 1 px: a 100000×1 strip), each
    /// reported as a skipped image. <paramref name="training"/>: for every short side that training picks from.
    /// </summary>
    public static Dataset Resizable(Dataset data, GeneralizedRCNNTransform resize, bool training) =>
        data.Exclude(
            data.Images.Select(i => (Image: i, Reason: resize.SizeProblem(i.Height, i.Width, training)))
                .Where(x => x.Reason is not null)
                .Select(x => (x.Image, x.Reason!))
        );

    /// <summary>The first ten data problems, one a line, and where the rest are (<paramref name="file"/>).</summary>
    public static void PrintProblems(IReadOnlyList<ProblemEntry> problems, string file)
    {
        foreach (var p in problems.Take(10))
            Console.WriteLine($"  {p.Image}{(p.Region is int i ? $" region {i}" : "")}: {p.Message}");
        if (problems.Count > 10)
            Console.WriteLine($"  … {problems.Count - 10} more in {file}");
    }

    static bool IsUserError(Exception e) =>
        e
            is NativeRuntimeException
                or ArgumentException
                or NotSupportedException
                or FileNotFoundException
                or DirectoryNotFoundException
                or InvalidDataException
                or IOException
                or UnauthorizedAccessException
                or MaskRcnnException;
}
