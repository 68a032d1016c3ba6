using System.Text.Json.Nodes;
using MaskRcnn.Config;
using MaskRcnn.Tuning;

namespace MaskRcnn.Tests.Tuning;

/// <summary>The search-space file: its format, its errors (one line naming the key), deterministic draws.</summary>
public class SearchSpaceTests
{
    const string Example = """
        {
          "base": "walkthrough",
          "params": {
            "training.learning_rate": { "loguniform": [0.005, 0.05] },
            "min_size": { "choice": [256, 320, 384] },
            "max_size": 512,
            "anchor_sizes": { "choice": [[16, 32, 64, 128, 256], [8, 16, 32, 64, 128]], "labels": ["16+", "8+"] },
            "box_batch_size_per_image": { "int": [32, 128] },
            "training.augmentation.speckle_sigma": { "uniform": [0.0, 0.15] },
            "start": { "choice": [ { "preset": "walkthrough" }, { "preset": "cpu-quick", "frozen_batch_norm": true } ] }
          },
          "rungs": { "min_epochs": 1, "max_epochs": 8, "eta": 2 },
          "metric": "sensitivity",
          "seed": 7
        }
        """;

    static SearchSpace Parse(string json) => SearchSpace.Parse(json, "space.json");

    [Fact]
    public void The_example_space_parses_and_draws_valid_configurations_within_bounds()
    {
        var space = Parse(Example);
        Assert.Equal([1, 2, 4, 8], space.Rungs.Epochs);
        Assert.Equal("sensitivity", space.Metric.Name);
        var sampler = new TrialSampler(space);
        var trials = new List<Trial>();
        for (int i = 0; i < 12; i++)
            trials.Add(sampler.Draw(i, trials)!);
        foreach (var t in trials)
        {
            var c = ConfigPaths.ToConfig(t.Config, t.Name);
            Assert.InRange(c.Training.LearningRate, 0.005, 0.05);
            Assert.Contains(c.MinSize[0], new[] { 256, 320, 384 });
            Assert.Equal(512, c.MaxSize);
            Assert.InRange(c.BoxBatchSizePerImage, 32, 128);
            Assert.InRange(c.Training.Augmentation.SpeckleSigma, 0.0, 0.15);
            Assert.True(c.AnchorSizes[0][0] is 16 or 8);
            Assert.Equal(8, c.Training.Epochs); // the last rung's epochs
            if (c.Arch == "resnet18-mlnet-fpn") // the walkthrough's stages, scaled from 12 to 8 epochs
                Assert.Equal("heads:1,4+:3,all:4", c.Training.Stages);
            else
                Assert.True(c.FrozenBatchNorm); // the group's field applies on top of its preset
            Assert.DoesNotContain("max_size", t.Params.Keys); // fixed values are in the config, not the draws
        }
        Assert.Contains(trials, t => t.Config["arch"]!.ToString() == "resnet18-fpn");
        Assert.Contains(trials, t => t.Config["arch"]!.ToString() == "resnet18-mlnet-fpn");
        // The same seed draws the same trials, in a new sampler (a resumed sweep).
        var again = new TrialSampler(Parse(Example));
        var redrawn = new List<Trial>();
        for (int i = 0; i < 12; i++)
            redrawn.Add(again.Draw(i, redrawn)!);
        Assert.Equal(trials.Select(t => t.Config.ToJsonString()), redrawn.Select(t => t.Config.ToJsonString()));
        var anchors = space.Parameters.Single(p => p.Key == "anchor_sizes");
        Assert.Contains(anchors.Describe(trials[0].Params["anchor_sizes"]), new[] { "16+", "8+" }); // the labels
    }

    [Fact]
    public void The_readmes_example_space_parses_and_draws()
    {
        string readme = File.ReadAllText(Path.Combine(TestSupport.RepoRoot, "README.md"));
        int start = readme.IndexOf("```json", readme.IndexOf("**The space**")) + "```json".Length;
        var space = Parse(readme[start..readme.IndexOf("```", start)]);
        Assert.Equal([1, 3, 9], space.Rungs.Epochs);
        var sampler = new TrialSampler(space);
        var trials = new List<Trial>();
        for (int i = 0; i < 5; i++)
            trials.Add(sampler.Draw(i, trials)!);
        Assert.All(trials, t => Assert.Equal(9, ConfigPaths.ToConfig(t.Config, t.Name).Training.Epochs));
    }

    [Fact]
    public void The_example_busi_space_parses_and_couples_each_recipe_with_its_start_point()
    {
        var space = SearchSpace.Load(Path.Combine(TestSupport.RepoRoot, "environment", "sweeps", "busi-example.json"));
        Assert.Equal([2, 6, 18], space.Rungs.Epochs);
        var sampler = new TrialSampler(space);
        var trials = new List<Trial>();
        for (int i = 0; i < 12; i++)
            trials.Add(sampler.Draw(i, trials)!);
        foreach (var c in trials.Select(t => ConfigPaths.ToConfig(t.Config, t.Name)))
        {
            Assert.Equal(c.Arch == "resnet18-mlnet-fpn", c.Training.StartFrom == "imagenet");
            Assert.Equal(c.Arch == "resnet18-mlnet-fpn", c.FrozenBatchNorm);
            Assert.Equal(18, c.Training.Epochs);
        }
    }

    [Fact]
    public void A_small_space_is_drawn_without_repeats_until_it_is_exhausted()
    {
        var space = Parse("""{ "base": "cpu-quick", "params": { "training.augment": { "choice": [true, false] } } }""");
        var sampler = new TrialSampler(space);
        var trials = new List<Trial>();
        trials.Add(sampler.Draw(0, trials)!);
        trials.Add(sampler.Draw(1, trials)!);
        Assert.NotEqual(
            trials[0].Params["training.augment"]!.ToJsonString(),
            trials[1].Params["training.augment"]!.ToJsonString()
        );
        Assert.Null(sampler.Draw(2, trials));
    }

    [Theory]
    [InlineData("""{ "params": { "training.learnin_rate": { "uniform": [0.1, 0.2] } } }""", "training.learnin_rate")]
    [InlineData("""{ "params": { "training.epochs": { "int": [2, 8] } } }""", "rungs set the epochs")]
    [InlineData("""{ "params": { "min_size": { "uniform": [0.5, 0.2] } } }""", "low ≤ high")]
    [InlineData("""{ "params": { "training.learning_rate": { "loguniform": [0, 0.2] } } }""", "0 < low")]
    [InlineData("""{ "params": { "min_size": { "uniform": [256, 384] } } }""", "does not fit the field")]
    [InlineData("""{ "params": { "arch": { "choice": [] } } }""", "params.arch.choice")]
    [InlineData("""{ "params": { "arch": { "choice": ["a"], "int": [1, 2] } } }""", "give one of")]
    [InlineData("""{ "params": { "training.start_from": { "choice": ["none", "/no/such.pth"] } } }""", "/no/such.pth")]
    [InlineData("""{ "base": "fast", "params": {} }""", "'fast' is neither a preset")]
    [InlineData("""{ "params": {}, "rungs": { "min_epochs": 4, "max_epochs": 2 } }""", "rungs.max_epochs")]
    [InlineData("""{ "params": {}, "rungs": { "eta": 1 } }""", "rungs.eta")]
    [InlineData("""{ "params": {}, "metric": "test_ap" }""", "unknown selection metric")]
    [InlineData("""{ "params": {}, "budget": 3 }""", "unknown key 'budget'")]
    [InlineData("""{ "params": { "min_size": { "choice": [512] }, "max_size": 256 } }""", "no valid configuration")]
    public void A_bad_space_is_one_error_naming_the_file_and_key(string json, string expected)
    {
        var e = Assert.Throws<MaskRcnnException>(() =>
        {
            var space = Parse(json);
            new TrialSampler(space).Draw(0, []);
        });
        Assert.Contains("space.json", e.Message);
        Assert.Contains(expected, e.Message);
        Assert.DoesNotContain("\n", e.Message);
    }

    [Fact]
    public void Config_paths_wrap_a_number_for_a_list_field_and_a_flat_list_for_per_level_anchors()
    {
        var node = ConfigPaths.ToNode(Presets.CpuQuick());
        ConfigPaths.Set(node, "min_size", JsonValue.Create(224));
        ConfigPaths.Set(node, "anchor_sizes", JsonNode.Parse("[8, 16, 32, 64, 128]"));
        ConfigPaths.Set(node, "training.augmentation.flip_probability", JsonValue.Create(0.0));
        var config = ConfigPaths.ToConfig(node, "test");
        Assert.Equal([224], config.MinSize);
        Assert.Equal([8.0], config.AnchorSizes[0]);
        Assert.Equal([128.0], config.AnchorSizes[4]);
        Assert.Equal(0.0, config.Training.Augmentation.FlipProbability);
        Assert.Contains("training.augmentation.speckle_sigma", ConfigPaths.Leaves(node));
    }

    [Theory]
    [InlineData("heads:2,4+:4,all:6", 8, "heads:1,4+:3,all:4")]
    [InlineData("heads:2,4+:4,all:6", 12, "heads:2,4+:4,all:6")]
    [InlineData("heads:1,all:9@0.001", 4, "heads:1,all:3@0.001")]
    [InlineData("heads:10,4+:1,all:1", 3, "heads:1,4+:1,all:1")]
    public void Stages_are_scaled_to_the_last_rung_keeping_their_shares_and_rates(
        string stages,
        int epochs,
        string scaled
    )
    {
        Assert.Equal(scaled, TrialSchedule.ScaleStages(stages, epochs));
    }

    [Fact]
    public void Rungs_multiply_by_eta_up_to_the_last_epochs()
    {
        Assert.Equal([1, 3, 9], Rungs.Default.Epochs);
        Assert.Equal([1, 2, 4, 6], new Rungs(1, 6, 2).Epochs);
        Assert.Equal([3], new Rungs(3, 3, 2).Epochs);
    }
}
