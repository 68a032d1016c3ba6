using MaskRcnn.Config;
using MaskRcnn.Data;
using MaskRcnn.Modeling;
using MaskRcnn.Teaching;
using MaskRcnn.Tests.Reliability;
using MaskRcnn.Training;
using MaskRcnn.Visualization;
using static TorchSharp.torch;

namespace MaskRcnn.Tests.Teaching;

/// <summary>A small model and 64-px phantoms shared by the teaching-API tests (built once).</summary>
public sealed class TeachingFixture : IDisposable
{
    readonly TestSupport.TempDir _tmp = new();
    public Dataset Train { get; }
    public MaskRCNN Model { get; }
    public Sample Sample { get; }
    public InspectionResult Inspection { get; }

    public TeachingFixture()
    {
        string data = ReliabilityData.DataFolder(_tmp, train: 6, val: 4, test: 2);
        Train = DatasetLoader.LoadSplit(data, "train");
        manual_seed(0);
        Model = new MaskRCNN(ReliabilityData.SmallConfig());
        Model.eval();
        int withLesions = Enumerable.Range(0, Train.Count).First(i => Train.Images[i].Instances.Count > 0);
        Sample = Train.Load(withLesions);
        Inspection = Inspector.Inspect(Model, Sample.Image, Sample.Targets(), layers: ["backbone.body.layer1"]);
    }

    public string Folder(string name) => _tmp[name];

    public void Dispose()
    {
        Inspection.Dispose();
        Sample.Dispose();
        Model.Dispose();
        _tmp.Dispose();
    }
}

public class TeachingApiTests(TeachingFixture f) : IClassFixture<TeachingFixture>
{
    static void Readable(Figure figure)
    {
        Assert.True(figure.Width <= Draw.MaxWidth, $"{figure.Width} px wide: a browser would shrink its labels");
        Assert.True(figure.Height > 0);
    }

    [Fact]
    public void Data_figures_and_statistics()
    {
        var shapes = LesionStats.Of(f.Train);
        Assert.Equal(f.Train.RegionsUsed, shapes.Count);
        Assert.All(shapes, s => Assert.True(s.Area > 0 && s.Width > 0 && s.Height > 0));
        var counts = LesionStats.Counts(f.Train);
        Assert.Equal(["class", "lesions", "images"], counts.Headers);
        Assert.Equal(f.Train.Count, counts.Rows.Sum(r => int.Parse(r[2])));
        Assert.Contains("COCO's 'small'", LesionStats.AreaSummary(shapes));
        Readable(Visualize.Samples(f.Train, [0, 1, 2, 3]));
        Readable(Visualize.TopMasks(f.Train, [0, 1]));
        Readable(Visualize.Augmentations(f.Train, 0, 3));
        Assert.Contains("<img", Visualize.Areas(shapes).Html);
        Assert.Contains("<img", Visualize.AspectRatios(shapes).Html);
    }

    [Fact]
    public void Anchor_levels_are_read_off_the_model()
    {
        var table = AnchorLevels.Of(f.Inspection, f.Model.Config);
        Assert.Equal(5, table.Rows.Count);
        long total = table.Rows.Sum(r => long.Parse(r[5].Replace(",", "")));
        Assert.Equal(f.Inspection.Anchors.shape[0], total);
        long expected = new[] { 4, 8, 16, 32, 64 }.Sum(s => 3L * (320 / s) * (320 / s));
        Assert.Equal(expected, AnchorLevels.Count(f.Model, 320, 320));
        using var at256 = new MaskRCNN(ReliabilityData.SmallConfig() with { MinSize = [256], MaxSize = 256 });
        Assert.Equal((192L, 256L), AnchorLevels.PaddedSize(at256, 626, 464)); // 256 × 189.3, padded to 32
    }

    [Fact]
    public void Inspection_figures_draw_every_stage()
    {
        var classes = f.Model.Config.ClassNames;
        Readable(Visualize.CentreAnchors(f.Inspection));
        var rpn = Visualize.RpnTargets(f.Inspection);
        Readable(rpn);
        Readable(Visualize.RoiTargets(f.Inspection));
        Readable(Visualize.RefinedAnchors(f.Inspection, 4));
        var classified = Visualize.ProposalClassification(f.Inspection, classes, shown: 20);
        Assert.Matches(@"\d+ proposals: \d+ classified background", classified.Caption);
        Readable(Visualize.Refinement(f.Inspection, classes, 0.0));
        Readable(Visualize.MaskBranch(f.Inspection, classes, minScore: 0.0));
        Readable(Visualize.FeatureMaps(f.Inspection));
        Readable(Visualize.BackboneStages(f.Inspection));
        Assert.Equal(4, CountCharts(Visualize.RpnDeltas(f.Inspection).Html));
        Assert.Equal(2, CountCharts(Visualize.ProposalCentres(f.Inspection).Html));
        Readable(Visualize.ResizeAndPad(f.Model, f.Sample.Image));
        Assert.Equal(3, RpnRecall.ForImage(f.Inspection, 0.7).Rows.Count);
    }

    static int CountCharts(string html) => html.Split("class=\"maskrcnn-chart\"").Length - 1;

    [Fact]
    public void The_training_batch_log_names_every_target()
    {
        var table = TrainingBatch.Describe(f.Model, f.Train, 0, 1);
        var names = table.Rows.Select(r => r[0]).ToList();
        Assert.Contains("images", names);
        Assert.Contains("masks[1]", names);
        Assert.Contains("mask targets", names);
        var images = table.Rows.Single(r => r[0] == "images");
        Assert.StartsWith("[2, 3, 64, 64]", images[1]);
    }

    [Fact]
    public void Presets_and_config_differences()
    {
        var presets = PresetTable.Compare();
        Assert.Equal(Presets.Names.Length + 1, presets.Headers.Count);
        Assert.Contains(presets.Rows, r => r[0] == "► arch");
        Assert.Contains(presets.Rows, r => r[0] == "training.momentum");
        // the seed preset's epochs are its stages' sum (03's table showed 26 against stages of 30)
        Assert.Equal(30, Recipes.Epochs(Presets.Seed()));
        Assert.Equal(30, Presets.Seed().Training.Epochs);
        Assert.Equal("", ConfigDiff.Describe(Presets.Walkthrough(), Presets.Walkthrough()));
        Assert.Equal(
            "box_score_thresh: 0.05 → 0.9",
            ConfigDiff.Describe(Presets.Walkthrough(), Presets.Walkthrough() with { BoxScoreThresh = 0.9 })
        );
        // notebook 03's exercise 2 compares the reader's change with this hash
        Assert.Equal(Exercise.Hash("box_score_thresh: 0.05 → 0.9"), "9ec8fa8a074c");
    }

    [Fact]
    public void A_training_run_is_read_back_typed_with_window_means()
    {
        string run = f.Folder("run");
        var config = ReliabilityData.SmallConfig() with
        {
            Training = ReliabilityData.SmallConfig().Training with
            {
                Epochs = 2,
                StepsPerEpoch = 3,
                LogEvery = 2,
                ValidateEvery = 1,
            },
        };
        var lines = new List<string>();
        var result = Recipes.Train(config, f.Train, f.Train.Take(2), run, lines.Add, lines.Add);
        Assert.NotNull(result.FinalModel);
        Assert.Contains(lines, l => l.Contains("mean loss") && l.Contains("(this epoch)"));
        var metrics = TrainingMetrics.Read(run);
        Assert.NotEmpty(metrics.Train);
        Assert.All(metrics.Train, r => Assert.NotNull(r.MeanLosses));
        var second = metrics.Train.First(r => r.Iteration == 2);
        Assert.Equal(2, second.Step);
        Assert.Equal(2, metrics.Validations.Count);
        Assert.Equal(2, metrics.Epochs.Count);
        Assert.Contains("<img", Visualize.LossCurves(metrics).Html);
        Assert.Contains("<img", Visualize.ValidationCurves(metrics).Html);
        var table = Recipes.Compare([("mine", run, config)]);
        Assert.Equal("mine", table.Rows[0][0]);
    }

    [Fact]
    public void A_stopped_run_resumes_exactly()
    {
        var demo = Checkpoints.StopAndResume(f.Train, stopAfter: 3);
        Assert.True(demo.Identical, demo.ToString());
        Assert.Contains("identical", demo.ToString());
    }

    [Fact]
    public void Evaluation_tables_and_the_threshold_exercise()
    {
        var evaluation = TestEvaluation.Run(f.Model, f.Train.Take(3), 0.9);
        Assert.Equal(2, evaluation.CocoTable().Rows.Count);
        Assert.Equal(19, evaluation.Sweep().Count);
        Assert.StartsWith("correct:", evaluation.ConfusionSummary());
        Assert.StartsWith("…", ThresholdChoice.Check("Exercise 2", evaluation, null, 0.95));
        Assert.StartsWith("✘", ThresholdChoice.Check("Exercise 2", evaluation, 1.5, 0.95));
        string verdict = ThresholdChoice.Check("Exercise 2", evaluation, 0.05, 0.95);
        Assert.Matches("^[✔✘]", verdict);
        Assert.DoesNotContain("threshold is 0.", verdict);
        Assert.Equal(2.0 / 3, ClinicalMath.Dice(80, 100, 60), 6);
    }

    [Fact]
    public void Weight_statistics_flag_overflow_and_list_frozen_statistics()
    {
        manual_seed(1);
        using var initial = new MaskRCNN(f.Model.Config with { FrozenBatchNorm = true });
        manual_seed(1);
        using var trained = new MaskRCNN(f.Model.Config with { FrozenBatchNorm = true });
        using (no_grad())
            trained.named_parameters().First(p => p.name.EndsWith("cls_score.weight")).parameter[0, 0] = 5000f;
        var rows = WeightStats.Of(trained, initial.state_dict());
        Assert.Contains(rows, r => r.Name.EndsWith("cls_score.weight") && r.Note == "overflow?");
        Assert.Contains(rows, r => r.Name.Contains("running_var") && r.Note.StartsWith("frozen"));
        Assert.Contains("1 flagged", WeightStats.Summary(trained, rows));
        Assert.Equal(1.0, WeightChange.Of(zeros(3), full(3, 0.5f)), 9);
    }

    [Fact]
    public void Exercise_helpers_compute_their_answers()
    {
        Assert.Equal(2, InspectionSteps.LevelOf(64, 64));
        Assert.Equal(4, InspectionSteps.LevelOf(224, 224));
        Assert.Equal(1.0, InspectionSteps.RoiTargetDx(f.Model, width: 40, shift: 4), 5);
        long at07 = InspectionSteps.PositiveAnchors(f.Model, f.Inspection, 0.7);
        Assert.True(InspectionSteps.PositiveAnchors(f.Model, f.Inspection, 0.5) >= at07);
        Assert.Equal("benign (3)_mask.png", MaskRcnn.Data.Busi.BusiLayout.MaskFileOf("benign (3).png"));
    }

    [Fact]
    public void A_generation_timed_three_times_returns_the_detections_of_one_pass()
    {
        var image = f.Sample.Image;
        using var once = RcnnFamily.Detect(f.Model, image, RcnnFamily.Generation.FasterRcnn, timings: 1).Detections;
        var thrice = RcnnFamily.Detect(f.Model, image, RcnnFamily.Generation.FasterRcnn, timings: 3);
        using var detections = thrice.Detections;
        Assert.Equal(once.Boxes.ToFloatArray(), detections.Boxes.ToFloatArray());
        Assert.Equal(once.Scores.ToFloatArray(), detections.Scores.ToFloatArray());
        Assert.True(thrice.Seconds.Total > 0);
        Assert.Throws<ArgumentOutOfRangeException>(() =>
            RcnnFamily.Detect(f.Model, image, RcnnFamily.Generation.FasterRcnn, timings: 0)
        );
    }
}
