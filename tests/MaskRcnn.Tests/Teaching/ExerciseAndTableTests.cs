using MaskRcnn.Teaching;
using MaskRcnn.Training;
using MaskRcnn.Visualization;

namespace MaskRcnn.Tests.Teaching;

public class ExerciseTests
{
    [Fact]
    public void A_wrong_number_is_told_how_far_off_without_the_answer()
    {
        string line = Exercise.Number("Exercise 1", 140, 100, 0.5, "think again", "answer1");
        Assert.StartsWith("✘ Exercise 1: not yet (too high by 10–50 %)", line);
        Assert.DoesNotContain("100", line);
        Assert.Equal("✔ Exercise 1: correct.", Exercise.Number("Exercise 1", 100.2, 100, 0.5, "", "answer1"));
        Assert.Contains("no answer yet", Exercise.Number("Exercise 1", null, 100, 0.5, "", "answer1"));
        Assert.Equal("about 2× too low", Exercise.Distance(50, 100, 0.5));
        Assert.Equal("more than 10× too high", Exercise.Distance(5000, 100, 0.5));
        Assert.Equal("close, but too low (within 10 %)", Exercise.Distance(95, 100, 0.5));
        Assert.Equal("your answer is too low", Exercise.Distance(-3, 100, 0.5));
    }

    [Fact]
    public void Hashed_answers_match_however_they_are_typed()
    {
        string hash = Exercise.Hash("Box_Reg");
        Assert.Equal(12, hash.Length);
        Assert.Equal(Exercise.Verdict.Correct, Exercise.CheckHash(" box_reg ", hash));
        Assert.Equal(Exercise.Verdict.NotYet, Exercise.CheckHash("classifier", hash));
        Assert.Equal(Exercise.Verdict.NotAnswered, Exercise.CheckHash(null, hash));
        Assert.Equal(Exercise.Verdict.Correct, Exercise.CheckHash(false, Exercise.Hash(false)));
        Assert.Equal(Exercise.Verdict.NotYet, Exercise.CheckHash(true, Exercise.Hash(false)));
        Assert.Equal(Exercise.Hash(0.5), Exercise.Hash("0.5"));
    }
}

public class TableTests
{
    sealed record Row(
        [property: Column("recipe")] string Name,
        [property: Column("AP50", "F2")] double? AP50,
        long Steps
    );

    [Fact]
    public void Records_become_columns_and_missing_values_a_dash()
    {
        var table = Table.From([new Row("staged", 0.9876, 720), new Row("scratch", null, 1440)], "recipes");
        Assert.Equal(["recipe", "AP50", "Steps"], table.Headers);
        Assert.Equal(["staged", "0.99", "720"], table.Rows[0]);
        Assert.Equal(["scratch", "—", "1,440"], table.Rows[1]);
        Assert.Contains("| recipe | AP50 | Steps |\n|---|---|---|\n| staged | 0.99 | 720 |", table.ToMarkdown());
        string html = table.ToHtml();
        Assert.Contains("<caption", html);
        Assert.Contains("text-align:right\">0.99</td>", html);
    }

    [Fact]
    public void Explicit_columns_and_escaping()
    {
        var table = Table.Of(new[] { ("a|b", double.NaN) }, ("name", r => r.Item1), ("value", r => r.Item2));
        Assert.Equal(["a|b", "—"], table.Rows[0]);
        Assert.Contains("a\\|b", table.ToMarkdown());
        Assert.Contains("a|b", table.ToHtml());
    }
}

public class RunsTests
{
    [Fact]
    public void Publish_replaces_a_run_and_keeps_the_previous_one()
    {
        string root = Path.Combine(Path.GetTempPath(), $"runs-{Guid.NewGuid():N}");
        string run = Path.Combine(root, "trained");
        Directory.CreateDirectory(run);
        File.WriteAllText(Path.Combine(run, Runs.FinalModel), "new");
        string target = Runs.Folder($"test-publish-{Guid.NewGuid():N}");
        string name = Path.GetFileName(target);
        try
        {
            Directory.CreateDirectory(target);
            File.WriteAllText(Path.Combine(target, Runs.FinalModel), "old");
            Assert.Contains("previous", Runs.Publish(run, name));
            Assert.Equal("new", File.ReadAllText(Path.Combine(target, Runs.FinalModel)));
            Assert.Equal("old", File.ReadAllText(Path.Combine(target + ".previous", Runs.FinalModel)));
            Assert.Equal(target, Runs.Find(name));
            Assert.Null(Runs.Find(name + "-missing"));
        }
        finally
        {
            Directory.Delete(root, true);
            foreach (var d in new[] { target, target + ".previous" })
                if (Directory.Exists(d))
                    Directory.Delete(d, true);
        }
    }

    [SkippableFact]
    public void A_missing_walkthrough_model_says_how_to_make_it()
    {
        Skip.If(Runs.Find(Runs.WalkthroughName) is not null, "a trained walkthrough model exists in this checkout");
        var e = Assert.Throws<MaskRcnnException>(() => Runs.Walkthrough());
        Assert.Contains("04_train", e.Message);
        Assert.Contains("--preset walkthrough", e.Message);
    }
}
