using System.CommandLine;
using System.Runtime.InteropServices;
using MaskRcnn.Config;
using MaskRcnn.Data;
using MaskRcnn.IO;
using MaskRcnn.Modeling.Transform;
using MaskRcnn.Runtime;
using MaskRcnn.Training;

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
    /// <remarks>
    /// Everything the verb prints goes through <see cref="Printable.Writer"/>: control characters in names from data
    /// files (ANSI escapes, new lines) are escaped, so no name can recolour the terminal or forge an "error:" line.
    /// </remarks>
    public static int Run(Func<int> body)
    {
        var (stdout, stderr) = (Console.Out, Console.Error);
        Console.SetOut(new Printable.Writer(stdout));
        Console.SetError(new Printable.Writer(stderr));
        try
        {
            return body();
        }
        catch (Exception e) when (IsExpected(e))
        {
            Report(e);
            return 1;
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // Not a user error: a bug. Still one line, which says so; MASKRCNN_DEBUG=1 shows where.
            Console.Error.WriteLine(
                $"error: unexpected {e.GetType().Name}: {Printable.Escape(FirstLine(e.Message))} (a bug in maskrcnn: "
                    + "run it again with MASKRCNN_DEBUG=1 for the stack trace to report)"
            );
            if (Debugging)
                foreach (var line in e.ToString().Split('\n'))
                    Console.Error.WriteLine(line.TrimEnd('\r'));
            return 1;
        }
        finally
        {
            Console.Out.Flush();
            Console.Error.Flush();
            Console.SetOut(stdout);
            Console.SetError(stderr);
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
        Console.Error.WriteLine($"error: {Printable.Escape(message)}");
        if (Debugging)
            foreach (var line in e.ToString().Split('\n'))
                Console.Error.WriteLine(line.TrimEnd('\r'));
    }

    /// <summary>MASKRCNN_DEBUG=1: stack traces after the one-line errors.</summary>
    public static bool Debugging => RuntimeOptions.Debug;

    /// <summary>The first non-empty line of a message (libtorch's messages go on with "Exception raised from
    /// …").</summary>
    public static string FirstLine(string message) =>
        message.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).FirstOrDefault()
        ?? message;

    /// <summary>
    /// A first argument that is neither a verb nor an option: "unknown verb" and the verb list, exit 1 — also when
    /// --help follows it (System.CommandLine would print the root help and exit 0, as if the verb existed).
    /// Null when the first argument is a verb, an option or absent.
    /// </summary>
    public static int? ReportUnknownVerb(RootCommand root, string[] args)
    {
        if (args.Length == 0 || args[0].StartsWith('-'))
            return null;
        if (root.Subcommands.Any(c => c.Name == args[0] || c.Aliases.Contains(args[0])))
            return null;
        Console.Error.WriteLine($"error: unknown verb '{args[0]}'");
        Console.Error.WriteLine($"verbs: {string.Join(", ", root.Subcommands.Select(c => c.Name))}");
        Console.Error.WriteLine("see: maskrcnn --help");
        return 1;
    }

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
        string errors = string.Join("; ", parse.Errors.Select(e => e.Message).Distinct());
        Console.Error.WriteLine($"error: {Printable.Escape(errors)}");
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
    public static void PrintProblems(IReadOnlyList<ProblemEntry> problems, string file, string indent = "  ")
    {
        foreach (var p in problems.Take(10))
            Console.WriteLine(
                $"{indent}{Printable.Escape(p.Image)}{(p.Region is int i ? $" region {i}" : "")}: "
                    + Printable.Escape(p.Message)
            );
        if (problems.Count > 10)
            Console.WriteLine($"{indent}… {problems.Count - 10} more in {file}");
    }

    /// <summary>
    /// --label-key, as every verb that reads a data folder takes it: the region attribute that holds the class, when
    /// several hold class names (the error then says so).
    /// </summary>
    public static Option<string?> LabelKeyOption() =>
        new("--label-key") { Description = "region attribute holding the class (default: detected)" };

    /// <summary>
    /// Where a verb writes a file (<paramref name="option"/>: --json, --out, --coco-json): checked before any work.
    /// Refused: a folder; one of the command's own inputs (<paramref name="inputs"/>, files or folders: an image,
    /// weights, an annotation file); a data folder's annotation file; a training run's own file (its config, metrics,
    /// checkpoints, model). The file itself is written whole or not at all (<see cref="AtomicFile"/>).
    /// </summary>
    public static void CheckOutput(string path, string option, params string?[] inputs)
    {
        string full = Resolved(path); // a link to an input is that input
        if (Directory.Exists(full))
            throw new MaskRcnnException($"{option}: {path} is a folder; give the name of a file to write");
        foreach (var input in inputs)
        {
            if (string.IsNullOrEmpty(input))
                continue;
            // A folder input (a run, a data folder) is covered by the run-file and annotation-file checks below.
            if (string.Equals(Resolved(input), full, StringComparison.Ordinal))
                throw new MaskRcnnException(
                    $"{option}: {path} is this command's input {input}; refused, it would be overwritten"
                );
        }
        if (InputFile.IsRegularFile(full) && Precious(full) is string what)
            throw new MaskRcnnException($"{option}: {path} is {what}; refused, it would be replaced");
        if (Path.GetFileName(full) == DatasetLoader.AnnotationFile)
            throw new MaskRcnnException(
                $"{option}: {path} is named like a data folder's annotation file ({DatasetLoader.AnnotationFile}); "
                    + "refused, it would replace annotations"
            );
        if (IsRunFileIn(full))
            throw new MaskRcnnException(
                $"{option}: {path} is a file of the training run in {Path.GetDirectoryName(full)}; refused, it would "
                    + "replace it"
            );
    }

    static readonly string[] ImageExtensions = [".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"];
    static readonly string[] WeightsExtensions = [".safetensors", ".pth", ".pt", ".h5", ".onnx", ".ckpt"];

    /// <summary>
    /// What an existing file is when no output should replace it: an image, weights, or VGG Image Annotator
    /// annotations (recognised by their keys, whatever the file's name); null for anything else.
    /// </summary>
    static string? Precious(string file)
    {
        string extension = Path.GetExtension(file).ToLowerInvariant();
        if (ImageExtensions.Contains(extension))
            return "an existing image";
        if (WeightsExtensions.Contains(extension))
            return "an existing weights file";
        try
        {
            using var stream = File.OpenRead(file);
            var head = new byte[1 << 16];
            int n = stream.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
            string text = System.Text.Encoding.UTF8.GetString(head, 0, n);
            bool via =
                text.Contains("\"shape_attributes\"")
                || text.Contains("\"_via_")
                || text.Contains("\"metadata\"") && text.Contains("\"xy\"") && text.Contains("\"vid\"");
            return via ? "a file of VIA annotations" : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>The full path, with a symbolic link followed to the file it finally names.</summary>
    static string Resolved(string path)
    {
        string full = Path.GetFullPath(path);
        return
            InputFile.IsRegularFile(full) && new FileInfo(full).ResolveLinkTarget(returnFinalTarget: true) is { } target
            ? target.FullName
            : full;
    }

    /// <summary>True when <paramref name="full"/> is one of the run files of the folder it is in.</summary>
    static bool IsRunFileIn(string full)
    {
        string dir = Path.GetDirectoryName(full)!;
        return Trainer.RunFiles(dir).Select(Path.GetFileName).Contains(Path.GetFileName(full), StringComparer.Ordinal);
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
