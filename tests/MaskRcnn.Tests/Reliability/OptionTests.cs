using static MaskRcnn.Tests.Reliability.ReliabilityData;
using static TorchSharp.torch;

namespace MaskRcnn.Tests.Reliability;

/// <summary>
/// Options and command lines (issue 23): every bad value is one line naming the option, before any work.
/// </summary>
public class OptionTests
{
    /// <summary>Exit 1, one error line naming <paramref name="option"/>, at most a hint after it, no help.</summary>
    static void AssertRefused(string option, params string[] args)
    {
        var (code, stdout, stderr) = TestSupport.RunCli(args);
        string command = string.Join(' ', args);
        Assert.True(code == 1, $"{command}: exit {code}\n{stdout}\n{stderr}");
        var lines = Lines(stderr);
        Assert.True(lines.Length is 1 or 2, $"{command}: {lines.Length} lines on stderr:\n{stderr}");
        Assert.StartsWith("error:", lines[0]);
        Assert.Contains(option, lines[0]);
        Assert.DoesNotContain("Usage:", stdout + stderr);
        NoTrace(stderr);
    }

    [Fact]
    public void Negative_thread_counts_are_refused_by_every_verb()
    {
        AssertRefused("--threads", "version", "--threads", "-4");
        AssertRefused("--threads", "predict", "--weights", "w", "--image", "i.png", "--threads", "-4");
        AssertRefused("--threads", "evaluate", "--data", "d", "--weights", "w", "--json", "o.json", "--threads", "-4");
        AssertRefused("--threads", "train", "--data", "d", "--out", "o", "--threads", "-4");
        AssertRefused("--threads", "benchmark", "--mode", "infer", "--threads", "-4");
    }

    /// <summary>
    /// Values that used to start the work they describe: 100000 libtorch threads (a minute without output), a
    /// 100000-px model input (120 GB), a 100000-px phantom. Now each is refused when the command line is read.
    /// </summary>
    [Fact]
    public void Oversized_values_are_refused_before_any_work()
    {
        AssertRefused("--threads", "version", "--threads", "100000");
        AssertRefused("--threads", "predict", "--weights", "w", "--image", "i.png", "--threads", "100000");
        AssertRefused(
            "--min-size",
            "predict",
            "--weights",
            "w",
            "--image",
            "i.png",
            "--min-size",
            "100000",
            "--max-size",
            "100000"
        );
        AssertRefused("--size", "benchmark", "--mode", "infer", "--size", "100000");
        AssertRefused("--size", "generate-phantoms", "--out", "o", "--seed", "1", "--size", "100000");
    }

    [Fact]
    public void Sizes_and_counts_below_their_minimum_are_refused()
    {
        AssertRefused("--min-size", "predict", "--weights", "w", "--image", "i.png", "--min-size", "0");
        AssertRefused("--max-size", "predict", "--weights", "w", "--image", "i.png", "--max-size", "-5");
        AssertRefused(
            "--max-size",
            "predict",
            "--weights",
            "w",
            "--image",
            "i.png",
            "--min-size",
            "800",
            "--max-size",
            "400"
        );
        AssertRefused("--score-threshold", "predict", "--weights", "w", "--image", "i.png", "--score-threshold", "1.5");
        AssertRefused("--num-classes", "predict", "--weights", "w", "--image", "i.png", "--num-classes", "1");
        AssertRefused("--epochs", "train", "--data", "d", "--out", "o", "--epochs", "0");
        AssertRefused("--steps-per-epoch", "train", "--data", "d", "--out", "o", "--steps-per-epoch", "-1");
        AssertRefused("--runs", "benchmark", "--mode", "infer", "--runs", "0");
        AssertRefused("--warmup", "benchmark", "--mode", "infer", "--warmup", "-1");
        AssertRefused("--size", "generate-phantoms", "--out", "o", "--seed", "1", "--size", "0");
        AssertRefused(
            "--score-threshold",
            "evaluate",
            "--gt",
            "g.json",
            "--dt",
            "d.json",
            "--json",
            "o.json",
            "--score-threshold",
            "-0.1"
        );
    }

    [Fact]
    public void Parse_errors_are_one_line_and_a_hint_not_the_help_text()
    {
        AssertRefused("--threads", "predict", "--weights", "w", "--image", "i.png", "--threads", "abc");
        AssertRefused("--bogus", "train", "--data", "d", "--out", "o", "--bogus");
        var (_, _, stderr) = TestSupport.RunCli("predict", "--weights", "w", "--image", "i.png", "--threads", "abc");
        Assert.Contains("maskrcnn predict --help", stderr);
    }

    [Fact]
    public void Benchmark_takes_a_configuration_or_the_arch_options_not_both()
    {
        AssertRefused("--arch", "benchmark", "--preset", "walkthrough", "--arch", "resnet18-fpn", "--mode", "train");
        AssertRefused("--bn", "benchmark", "--config", "c.json", "--bn", "batch", "--mode", "infer");
        AssertRefused("--config", "benchmark", "--preset", "walkthrough", "--config", "c.json", "--mode", "infer");
        AssertRefused("--stage", "benchmark", "--arch", "resnet18-fpn", "--stage", "heads", "--mode", "train");
        AssertRefused("--stage", "benchmark", "--preset", "walkthrough", "--stage", "6+", "--mode", "train");
        AssertRefused("--mode", "benchmark", "--preset", "walkthrough", "--mode", "bogus");
        AssertRefused("walkthru", "benchmark", "--preset", "walkthru", "--mode", "train");
    }

    [Fact]
    public void A_libtorch_error_that_escapes_is_one_line_and_the_trace_is_opt_in()
    {
        // Two channels where the model normalises three: libtorch's broadcasting error, thrown from native code.
        using var tmp = new TestSupport.TempDir();
        string pt = tmp["two-channels.pt"];
        using (var image = rand(2, 64, 64))
            MaskRcnn.Weights.StateDicts.Write(pt, new Dictionary<string, Tensor> { ["image"] = image });
        string[] args =
        [
            "benchmark",
            "--arch",
            "resnet18-fpn",
            "--size",
            "64",
            "--mode",
            "infer",
            "--runs",
            "1",
            "--warmup",
            "0",
            "--threads",
            "1",
            "--image",
            pt,
        ];
        var (code, _, stderr) = TestSupport.RunCli(args);
        Assert.True(code == 1, stderr);
        Assert.Single(Lines(stderr));
        Assert.StartsWith("error:", stderr);
        Assert.Contains("libtorch", stderr);
        NoTrace(stderr);

        (code, _, stderr) = TestSupport.RunCliWithEnvironment(["MASKRCNN_DEBUG=1"], args);
        Assert.Equal(1, code);
        Assert.Contains("   at ", stderr);
    }
}
