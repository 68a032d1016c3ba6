using System.Text.Json;
using MaskRcnn.Runtime;

namespace MaskRcnn.Tests;

/// <summary>The notebooks' structure (always) and, once environment/run-notebooks.sh has run, their executed
/// copies.</summary>
public class NotebookTests
{
    static string Folder => Path.Combine(TestSupport.RepoRoot, "notebooks");
    static IEnumerable<string> Sources => Directory.GetFiles(Folder, "*.ipynb").Order();
    public static IEnumerable<object[]> Names => Sources.Select(s => new object[] { Path.GetFileName(s) });

    [Fact]
    public void Notebooks_are_numbered_from_00_environment()
    {
        var names = Sources.Select(Path.GetFileName).ToList();
        Assert.Equal("00_environment.ipynb", names[0]);
        Assert.True(names.Count >= 9, string.Join(", ", names));
        Assert.All(names, n => Assert.Matches(@"^\d\d_[a-z_]+\.ipynb$", n!));
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void Metadata_opens_in_vs_code_and_jupyter(string name)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(Folder, name)));
        var root = doc.RootElement;
        Assert.Equal(4, root.GetProperty("nbformat").GetInt32());
        Assert.True(root.GetProperty("nbformat_minor").GetInt32() >= 5);
        var meta = root.GetProperty("metadata");
        Assert.Equal(".net-csharp", meta.GetProperty("kernelspec").GetProperty("name").GetString());
        Assert.Equal("C#", meta.GetProperty("kernelspec").GetProperty("language").GetString());
        Assert.Equal(
            "csharp",
            meta.GetProperty("polyglot_notebook").GetProperty("kernelInfo").GetProperty("defaultKernelName").GetString()
        );
        var ids = root.GetProperty("cells").EnumerateArray().Select(c => c.GetProperty("id").GetString()).ToList();
        Assert.Equal(ids.Count, ids.Distinct().Count());
        string Text(Func<JsonElement, bool> which) =>
            string.Concat(
                root.GetProperty("cells")
                    .EnumerateArray()
                    .Where(which)
                    .SelectMany(c => c.GetProperty("source").EnumerateArray().Select(l => l.GetString()))
            );
        var text = Text(_ => true);
        // never a second libtorch in the kernel
        Assert.DoesNotContain("nuget: TorchSharp", Text(c => c.GetProperty("cell_type").GetString() == "code"));
        Assert.Contains("Look at", text); // figures say what to look at
    }

    [SkippableTheory]
    [MemberData(nameof(Names))]
    public void Executed_copy_has_no_errors_and_shows_figures_and_charts(string name)
    {
        string executed = Path.Combine(Folder, "out", name);
        bool required = RuntimeOptions.RequireExecutedNotebooks;
        if (
            !File.Exists(executed)
            || File.GetLastWriteTimeUtc(executed) < File.GetLastWriteTimeUtc(Path.Combine(Folder, name))
        )
        {
            Assert.False(required, $"{executed} is missing or older than its source: run environment/run-notebooks.sh");
            // not executed yet in this checkout (CI runs this test again after the notebooks)
            throw new SkipException($"{executed} is missing or older than its source (environment/run-notebooks.sh)");
        }
        using var doc = JsonDocument.Parse(File.ReadAllText(executed));
        var outputs = doc
            .RootElement.GetProperty("cells")
            .EnumerateArray()
            .Where(c => c.GetProperty("cell_type").GetString() == "code")
            .SelectMany(c => c.GetProperty("outputs").EnumerateArray())
            .ToList();
        Assert.DoesNotContain(outputs, o => o.GetProperty("output_type").GetString() == "error");
        Assert.DoesNotContain(
            outputs,
            o =>
                o.TryGetProperty("name", out var n) && n.GetString() == "stderr" && o.GetRawText().Contains("Exception")
        );
        string all = string.Concat(outputs.Select(o => o.GetRawText()));
        Assert.True(all.Contains("data:image/png;base64"), $"{name}: no PNG figure in its outputs");
        Assert.True(
            all.Contains("plotly", StringComparison.OrdinalIgnoreCase),
            $"{name}: no Plotly chart in its outputs"
        );
    }

    /// <summary>Output text that says a notebook ran without the trained model (01/02 used to fall back on an
    /// untrained one; now they stop at their top with <c>Runs.Walkthrough()</c>'s message).</summary>
    static readonly string[] UntrainedMarks = ["untrained", "holds no trained model", "run 04_train first"];

    static string OutputText(string path)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(path));
        return string.Concat(
            doc.RootElement.GetProperty("cells")
                .EnumerateArray()
                .Where(c => c.GetProperty("cell_type").GetString() == "code")
                .SelectMany(c => c.GetProperty("outputs").EnumerateArray())
                .Select(o => o.GetRawText())
        );
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void Executed_copy_used_a_trained_model_where_the_committed_one_did(string name)
    {
        // CI runs the quick main job on a clean clone (no runs/): the notebooks that need 04_train's model must run
        // after it (run-notebooks.sh orders them by their metadata) and show a trained model, as the committed do.
        string executed = Path.Combine(Folder, "out", name);
        bool required = RuntimeOptions.RequireExecutedNotebooks;
        if (!File.Exists(executed))
        {
            Assert.False(required, $"{executed} is missing: run environment/run-notebooks.sh");
            return;
        }
        string committed = OutputText(Path.Combine(Folder, name));
        string ran = OutputText(executed);
        foreach (var mark in UntrainedMarks.Where(m => !committed.Contains(m, StringComparison.OrdinalIgnoreCase)))
            Assert.False(
                ran.Contains(mark, StringComparison.OrdinalIgnoreCase),
                $"{name}: the executed copy says '{mark}' where the committed notebook shows a trained model"
            );
    }

    /// <summary>
    /// CI runs the notebooks with every exercise answered from notebooks/solutions/ (run-notebooks.sh --solutions,
    /// listed in out/SOLVED): every check must then say "correct" — the checks are tested against the solutions the
    /// educators' file gives.
    /// </summary>
    [Theory]
    [MemberData(nameof(Names))]
    public void Solved_copy_passes_every_exercise(string name)
    {
        string solved = Path.Combine(Folder, "out", "SOLVED");
        bool required = RuntimeOptions.RequireExecutedNotebooks;
        bool hasSolutions = File.Exists(Path.Combine(Folder, "solutions", Path.ChangeExtension(name, ".json")));
        if (!File.Exists(solved) || !File.ReadAllLines(solved).Contains(name))
        {
            Assert.False(
                required && hasSolutions,
                $"{name} was not run with its solutions (run-notebooks.sh --solutions)"
            );
            return;
        }
        string text = OutputText(Path.Combine(Folder, "out", name));
        var verdicts = System
            .Text.RegularExpressions.Regex.Matches(text, @"(✔|✘|…) Exercise (\d+)")
            .Select(m => (Mark: m.Groups[1].Value, Number: m.Groups[2].Value))
            .ToList();
        Assert.NotEmpty(verdicts);
        Assert.All(
            verdicts,
            v => Assert.True(v.Mark == "✔", $"{name}: exercise {v.Number} is not correct with its solution")
        );
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(Folder, name)));
        string exercises = string.Concat(
            doc.RootElement.GetProperty("cells")
                .EnumerateArray()
                .Where(c => c.GetProperty("cell_type").GetString() == "markdown")
                .Select(c => string.Concat(c.GetProperty("source").EnumerateArray().Select(l => l.GetString())))
                .SkipWhile(t => !t.Contains("## Exercises"))
        );
        int asked = System.Text.RegularExpressions.Regex.Matches(exercises, @"\*\*(\d+)\.").Count;
        Assert.Equal(asked, verdicts.Select(v => v.Number).Distinct().Count());
    }

    [Fact]
    public void Notebooks_that_need_the_trained_model_run_after_the_one_that_trains_it()
    {
        var order = TestSupport.Run(
            "python3",
            [Path.Combine(TestSupport.RepoRoot, "environment", "notebook-order.py"), .. Sources]
        );
        Assert.True(order.Code == 0, order.Err);
        var names = order.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(Path.GetFileName).ToList();
        Assert.Equal(Sources.Count(), names.Count);
        foreach (var source in Sources)
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(source));
            bool loadsModel = File.ReadAllText(source).Contains("Runs.Walkthrough()");
            var needs =
                doc.RootElement.GetProperty("metadata").TryGetProperty("maskrcnn", out var m)
                && m.TryGetProperty("needs", out var n)
                    ? n.EnumerateArray().Select(x => x.GetString() + ".ipynb").ToList()
                    : [];
            Assert.True(
                !loadsModel || needs.Contains("04_train.ipynb"),
                $"{Path.GetFileName(source)} loads the walkthrough model but does not declare that it needs 04_train"
            );
            foreach (var need in needs)
                Assert.True(
                    names.IndexOf(need) < names.IndexOf(Path.GetFileName(source)),
                    $"{Path.GetFileName(source)} runs before {need}, which it needs"
                );
        }
    }
}

/// <summary>What every reader-facing notebook must have: exercises with checks, a parameters cell, recorded
/// execution.</summary>
public class NotebookContentTests
{
    static string Folder => Path.Combine(TestSupport.RepoRoot, "notebooks");
    public static IEnumerable<object[]> Names => NotebookTests.Names;

    static List<JsonElement> Cells(string name)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(Folder, name)));
        return doc.RootElement.GetProperty("cells").EnumerateArray().Select(c => c.Clone()).ToList();
    }

    static string Source(JsonElement cell) =>
        string.Concat(cell.GetProperty("source").EnumerateArray().Select(l => l.GetString()));

    /// <summary>The notebooks after 00_environment (which teaches no exercises).</summary>
    public static IEnumerable<object[]> NamesFrom01 => Names.Where(n => !((string)n[0]).StartsWith("00"));

    [Theory]
    [MemberData(nameof(NamesFrom01))]
    public void Notebooks_from_01_on_end_with_checked_exercises(string name)
    {
        var cells = Cells(name);
        int heading = cells.FindLastIndex(c =>
            c.GetProperty("cell_type").GetString() == "markdown" && Source(c).Contains("## Exercises")
        );
        Assert.True(heading > 0, $"{name}: no '## Exercises' section");
        string after = string.Concat(
            cells.Skip(heading).Where(c => c.GetProperty("cell_type").GetString() == "code").Select(Source)
        );
        int checks = System
            .Text.RegularExpressions.Regex.Matches(after, @"Exercise\.(Say|Number|Hashed)\(|ThresholdChoice\.Check\(")
            .Count;
        Assert.True(checks >= 2, $"{name}: {checks} checked exercise(s); two or three expected");
        Assert.Contains("answer1", after);
    }

    /// <summary>What a student reads: short cells (plumbing lives in the library), lines that fit a page, no long
    /// helper functions in cells (issue 26's measured targets).</summary>
    [Theory]
    [MemberData(nameof(Names))]
    public void Cells_are_short_and_lines_fit_the_page(string name)
    {
        var problems = new List<string>();
        foreach (var (cell, index) in Cells(name).Select((c, i) => (c, i)))
        {
            var lines = Source(cell).Split('\n');
            foreach (var line in lines.Where(l => l.Length > MaxLine))
                problems.Add($"[{index}] a line of {line.Length} characters (at most {MaxLine}): {line[..40]}…");
            if (cell.GetProperty("cell_type").GetString() != "code")
                continue;
            if (lines.Length > MaxCellLines)
                problems.Add($"[{index}] a code cell of {lines.Length} lines (at most {MaxCellLines})");
            foreach (var (function, length) in HelperFunctions(lines).Where(f => f.Lines > MaxHelperLines))
                problems.Add($"[{index}] helper '{function}' of {length} lines (at most {MaxHelperLines})");
        }
        Assert.True(problems.Count == 0, $"{name}:\n" + string.Join("\n", problems));
    }

    const int MaxLine = 120;
    const int MaxCellLines = 15;
    const int MaxHelperLines = 5;

    static readonly System.Text.RegularExpressions.Regex Declaration = new(
        @"^\s*(?:static\s+|async\s+)*(?<type>[A-Za-z_][\w.]*(?:<[^=]*>)?(?:\[\])?\??|\([^=]*\))\s+"
            + @"(?<name>[A-Za-z_]\w*)\s*\((?<params>[^;]*)\)\s*(?<body>=>|\{|$)"
    );

    static readonly HashSet<string> Keywords =
    [
        "if",
        "for",
        "foreach",
        "while",
        "switch",
        "using",
        "catch",
        "lock",
        "return",
        "new",
        "await",
        "throw",
        "else",
        "case",
        "yield",
        "in",
        "is",
        "as",
        "out",
        "ref",
        "var",
        "nameof",
        "typeof",
        "when",
        "await",
    ];

    /// <summary>Local functions declared in a cell and how many lines each takes.</summary>
    public static IEnumerable<(string Name, int Lines)> HelperFunctions(string[] lines)
    {
        for (int i = 0; i < lines.Length; i++)
        {
            var m = Declaration.Match(lines[i]);
            if (!m.Success || Keywords.Contains(m.Groups["type"].Value) || Keywords.Contains(m.Groups["name"].Value))
                continue;
            int end = i;
            if (m.Groups["body"].Value == "=>")
                while (end < lines.Length - 1 && !lines[end].TrimEnd().EndsWith(';'))
                    end++;
            else
            {
                int depth = 0;
                bool opened = false;
                for (end = i; end < lines.Length; end++)
                {
                    depth += lines[end].Count(c => c == '{') - lines[end].Count(c => c == '}');
                    opened |= lines[end].Contains('{');
                    if (opened && depth <= 0)
                        break;
                }
            }
            yield return (m.Groups["name"].Value, Math.Min(end, lines.Length - 1) - i + 1);
        }
    }

    [Fact]
    public void The_helper_function_rule_sees_local_functions()
    {
        var found = HelperFunctions([
                "double Half(double x) => x / 2;",
                "string Long(int a)",
                "{",
                "    var b = a + 1;",
                "    return b.ToString();",
                "}",
                "foreach (var x in xs) Console.WriteLine(x);",
                "Console.WriteLine(Half(2));",
                "return Half(3);",
            ])
            .ToList();
        Assert.Equal([("Half", 1), ("Long", 5)], found);
    }

    /// <summary>A check cell never holds its expected answer as a literal (issue 26 §4): it is computed when the
    /// cell runs, or compared with a hash.</summary>
    [Theory]
    [MemberData(nameof(Names))]
    public void Exercise_checks_hold_no_literal_answer(string name)
    {
        var literal = new System.Text.RegularExpressions.Regex(
            @"Exercise\.(Check|Number|Say)\(\s*(""[^""]*""\s*,\s*)?(Exercise\.Check\()?\s*answer\w*\s*,\s*"
                + @"(true|false|-?[\d.]+\s*[,)]|"")"
        );
        var code = string.Concat(
            Cells(name).Where(c => c.GetProperty("cell_type").GetString() == "code").Select(Source)
        );
        var found = literal.Matches(code).Select(m => m.Value).ToList();
        Assert.True(found.Count == 0, $"{name}: expected answers written out: {string.Join("; ", found)}");
    }

    [Theory]
    [InlineData("03_config.ipynb")]
    [InlineData("04_train.ipynb")]
    [InlineData("05_inspect_model.ipynb")]
    [InlineData("06_evaluate.ipynb")]
    public void Researchers_notebooks_start_with_one_parameters_cell(string name)
    {
        var cells = Cells(name);
        int heading = cells.FindIndex(c =>
            c.GetProperty("cell_type").GetString() == "markdown" && Source(c).Contains("## Parameters")
        );
        Assert.True(heading > 0 && heading < 5, $"{name}: the parameters section should come right after the set-up");
        Assert.Equal("code", cells[heading + 1].GetProperty("cell_type").GetString());
        Assert.Contains("Quick", Source(cells[heading + 1])); // CI's quick mode shrinks the work through it
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void Committed_notebook_shows_an_executed_run(string name)
    {
        var code = Cells(name).Where(c => c.GetProperty("cell_type").GetString() == "code").ToList();
        Assert.All(code, c => Assert.Equal(JsonValueKind.Number, c.GetProperty("execution_count").ValueKind));
        var outputs = code.SelectMany(c => c.GetProperty("outputs").EnumerateArray())
            .Select(o => o.GetRawText())
            .ToList();
        Assert.NotEmpty(outputs);
        Assert.DoesNotContain(
            outputs,
            o => o.Contains("\"output_type\": \"error\"") || o.Contains("\"output_type\":\"error\"")
        );
        Assert.DoesNotContain(outputs, o => o.Contains("&lt;null&gt;")); // a stray null result
    }
}
