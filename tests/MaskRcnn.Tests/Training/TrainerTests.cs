using System.Buffers.Binary;
using System.Text.Json;
using MaskRcnn.Config;
using MaskRcnn.Data;
using MaskRcnn.Data.Phantoms;
using MaskRcnn.Modeling;
using MaskRcnn.Training;
using MaskRcnn.Weights;
using TorchSharp;
using static TorchSharp.torch;

namespace MaskRcnn.Tests.Training;

/// <summary>libtorch's random generator is process-wide: runs that must repeat exactly cannot share the process with
/// other tests.</summary>
[CollectionDefinition(nameof(SequentialTraining), DisableParallelization = true)]
public class SequentialTraining;

[Collection(nameof(SequentialTraining))]
public class TrainerTests
{
    static MaskRcnnConfig Config(int epochs = 2, int steps = 2) => TinyTraining.Config(epochs: epochs, steps: steps);

    static (Dataset Train, Dataset Val) Data(TestSupport.TempDir tmp)
    {
        PhantomDataset.Write(tmp.Path, 9, 4, 2, 0, 96);
        return (DatasetLoader.LoadSplit(tmp.Path, "train"), DatasetLoader.LoadSplit(tmp.Path, "val"));
    }

    static MaskRCNN NewModel(MaskRcnnConfig c)
    {
        manual_seed(c.Training.Seed);
        return new MaskRCNN(c);
    }

    [Fact]
    public void Stopped_and_resumed_run_continues_exactly()
    {
        using var data = new TestSupport.TempDir();
        using var runs = new TestSupport.TempDir();
        var (train, _) = Data(data);
        var config = Config(epochs: 2, steps: 2);

        var straight = new List<double>();
        using (var model = NewModel(config))
        {
            var t = new Trainer(model, train, null, Path.Combine(runs.Path, "a"));
            t.Progress += p => straight.Add(p.Loss);
            Assert.False(t.Run().Stopped);
        }
        Assert.Equal(4, straight.Count);

        var first = new List<double>();
        using (var model = NewModel(config))
        {
            var t = new Trainer(model, train, null, Path.Combine(runs.Path, "b"));
            t.Progress += p => first.Add(p.Loss);
            var r = t.Run(stopAfterIteration: 3);
            Assert.True(r.Stopped);
            Assert.Equal(3, r.State.Iteration);
        }
        var resumed = new List<(long Iteration, double Loss)>();
        manual_seed(12345);
        using (var model = new MaskRCNN(config)) // another initialisation: the checkpoint decides
        {
            var t = new Trainer(model, train, null, Path.Combine(runs.Path, "b"));
            t.Progress += p => resumed.Add((p.Iteration, p.Loss));
            var r = t.Run(resume: true);
            Assert.False(r.Stopped);
        }
        Assert.Equal(straight.Take(3), first);
        Assert.Single(resumed);
        Assert.Equal(4, resumed[0].Iteration);
        Assert.Equal(straight[3], resumed[0].Loss, 6);
    }

    [Fact]
    public void Validating_every_epoch_trains_the_same_weights_as_validating_never()
    {
        // The validation loss samples anchors and RoIs from libtorch's generator as a training step does.
        using var data = new TestSupport.TempDir();
        using var runs = new TestSupport.TempDir();
        var (train, val) = Data(data);
        var losses = new List<List<double>>();
        foreach (int every in new[] { 0, 1 })
        {
            var config = Config(epochs: 2, steps: 1);
            config = config with { Training = config.Training with { ValidateEvery = every } };
            var seen = new List<double>();
            int validations = 0;
            using var model = NewModel(config);
            var t = new Trainer(model, train, val, Path.Combine(runs.Path, $"every-{every}"));
            t.Progress += p => seen.Add(p.Loss);
            t.Validated += _ => validations++;
            Assert.False(t.Run().Stopped);
            Assert.Equal(every == 0 ? 0 : 2, validations);
            losses.Add(seen);
        }
        Assert.Equal(2, losses[0].Count);
        Assert.Equal(losses[0], losses[1]);
    }

    [Fact]
    public void Non_finite_losses_skip_steps_then_stop_naming_the_loss_and_checkpoint()
    {
        using var data = new TestSupport.TempDir();
        using var run = new TestSupport.TempDir();
        var (train, _) = Data(data);
        using var model = NewModel(
            Config(epochs: 3, steps: 2) with
            {
                Training = Config().Training with { Epochs = 3, MaxNonFiniteSteps = 2 },
            }
        );
        var trainer = new Trainer(model, train, null, run.Path);
        int calls = 0;
        var messages = new List<string>();
        trainer.Message += messages.Add;
        trainer.LossTransform = losses =>
        {
            if (++calls > 2)
                losses["loss_mask"] = losses["loss_mask"] * float.NaN; // from the second epoch on
            return losses;
        };
        var before = model.state_dict()["roi_heads.box_head.fc6.weight"].clone();
        var e = Assert.Throws<TrainingDivergedException>(() => trainer.Run());
        Assert.Contains("loss_mask = NaN", e.Message);
        Assert.Contains(trainer.LastCheckpoint, e.Message);
        Assert.Contains(messages, m => m.Contains("non-finite loss") && m.Contains("step skipped"));
        // The skipped steps changed nothing: the weights equal the last good checkpoint's.
        var saved = Checkpoint.Read(trainer.LastCheckpoint);
        Assert.True(
            saved
                .Model["roi_heads.box_head.fc6.weight"]
                .eq(model.state_dict()["roi_heads.box_head.fc6.weight"].cpu())
                .all()
                .item<bool>()
        );
        Assert.False(before.eq(model.state_dict()["roi_heads.box_head.fc6.weight"]).all().item<bool>());
    }

    [Fact]
    public void Run_folder_holds_config_checkpoints_metrics_and_tensorboard_events()
    {
        using var data = new TestSupport.TempDir();
        using var run = new TestSupport.TempDir();
        var (train, val) = Data(data);
        using var model = NewModel(
            Config(epochs: 2, steps: 1) with
            {
                Training = Config().Training with { Epochs = 2, StepsPerEpoch = 1, ValidateEvery = 1 },
            }
        );
        var trainer = new Trainer(model, train, val, run.Path);
        var result = trainer.Run();
        Assert.Equal(2, result.Validations.Count);
        foreach (
            var f in new[] { "config.json", "checkpoint_last.safetensors", "model_final.safetensors", "metrics.jsonl" }
        )
            Assert.True(File.Exists(Path.Combine(run.Path, f)), f);
        Assert.Empty(Directory.GetFiles(run.Path, "*.tmp"));
        Assert.Equal(model.Config.ToJson(), MaskRcnnConfig.Load(Path.Combine(run.Path, "config.json")).ToJson());
        var lines = File.ReadAllLines(Path.Combine(run.Path, "metrics.jsonl"))
            .Select(l => JsonDocument.Parse(l).RootElement)
            .ToList();
        Assert.Contains(
            lines,
            l =>
                l.GetProperty("type").GetString() == "train"
                && l.GetProperty("losses").TryGetProperty("loss_mask", out _)
        );
        Assert.Contains(lines, l => l.GetProperty("type").GetString() == "val" && l.TryGetProperty("segm", out _));
        var epochs = lines.Where(l => l.GetProperty("type").GetString() == "epoch").ToList();
        Assert.Equal([1, 2], epochs.Select(l => l.GetProperty("epoch").GetInt32()));
        Assert.All(epochs, l => Assert.True(l.GetProperty("rss_mb").GetDouble() > 0));
        Assert.True(Checkpoint.Read(trainer.FinalModel).State!.Finished);

        // TensorBoard: TFRecords whose masked CRC-32C values check out, holding the scalars, the weight histograms and
        // the prediction images.
        var events = Directory.GetFiles(run.Path, "events.out.tfevents.*").Single();
        var summaries = TensorBoardEvents.Read(events);
        Assert.Contains(summaries, v => v.Tag == "train/loss" && v.Kind == "scalar");
        Assert.Contains(summaries, v => v.Tag == "train/loss_mask" && v.Kind == "scalar");
        Assert.Contains(summaries, v => v.Tag == "val/segm_AP50" && v.Kind == "scalar");
        Assert.Contains(summaries, v => v.Tag == "weights/roi_heads.box_head.fc6.weight" && v.Kind == "histogram");
        var images = summaries.Where(v => v.Kind == "image" && v.Tag.StartsWith("val/predictions/")).ToList();
        Assert.Equal(2 * Math.Min(TensorBoardLog.PredictionImages, val.Count), images.Count); // two validations
        Assert.All(summaries, v => Assert.InRange(v.WallTime, 1.6e9, 4e9)); // seconds since 1970
    }

    [SkippableFact]
    public void Bfloat16_training_keeps_float32_weights_and_records_its_precision()
    {
        Skip.IfNot(MaskRcnn.Runtime.Autocast.IsAvailable, "libtorch's autocast functions were not found");
        using var data = new TestSupport.TempDir();
        using var run = new TestSupport.TempDir();
        var (train, val) = Data(data);
        var config = Config(epochs: 2, steps: 2) with
        {
            Training = Config().Training with { Epochs = 2, StepsPerEpoch = 2, ValidateEvery = 2, Precision = "bf16" },
        };
        using var model = NewModel(config);
        var losses = new List<double>();
        var trainer = new Trainer(model, train, val, run.Path);
        trainer.Progress += p => losses.Add(p.Loss);
        var result = trainer.Run();
        Assert.False(result.Stopped);
        Assert.Equal(4, losses.Count);
        Assert.All(losses, l => Assert.True(double.IsFinite(l)));
        Assert.Single(result.Validations);
        Assert.All(model.parameters(), p => Assert.Equal(ScalarType.Float32, p.dtype)); // master weights stay float32
        Assert.False(MaskRcnn.Runtime.Autocast.IsEnabled(DeviceType.CPU));
        Assert.Equal("bf16", MaskRcnnConfig.Load(Path.Combine(run.Path, "config.json")).Training.Precision);
    }

    [Fact]
    public void Crc32c_matches_the_standard_check_value()
    {
        Assert.Equal(0xE3069283u, TensorBoardEvents.Crc32C("123456789"u8));
    }

    [Fact]
    public void A_failed_write_leaves_the_previous_checkpoint_intact()
    {
        using var run = new TestSupport.TempDir();
        using var model = NewModel(Config());
        string path = run["checkpoint_last.safetensors"];
        Checkpoint.Save(path, model);
        var before = File.ReadAllBytes(path);
        var bad = new Dictionary<string, Tensor> { ["x"] = zeros(2, dtype: ScalarType.ComplexFloat32) };
        Assert.ThrowsAny<ArgumentException>(() => SafetensorsFile.Write(path, bad));
        Assert.Equal(before, File.ReadAllBytes(path));
        Assert.Single(Directory.GetFiles(run.Path));
    }

    [Fact]
    public void Safetensors_round_trip_keeps_dtypes_shapes_and_values_of_views()
    {
        using var run = new TestSupport.TempDir();
        var t = arange(24, dtype: ScalarType.Float32).reshape(2, 3, 4);
        var tensors = new Dictionary<string, Tensor>
        {
            ["view"] = t.permute(2, 0, 1), // not contiguous: written in logical order
            ["ints"] = arange(5, dtype: ScalarType.Int64) - 2,
            ["flags"] = tensor(new[] { true, false, true }),
            ["scalar"] = tensor(3.5),
            ["half"] = tensor(new[] { 1.5f, -2f }).to(ScalarType.Float16),
        };
        SafetensorsFile.Write(run["x.safetensors"], tensors, new Dictionary<string, string> { ["k"] = "v" });
        var (read, meta) = SafetensorsFile.Read(run["x.safetensors"]);
        Assert.Equal("v", meta["k"]);
        Assert.Equal(tensors.Keys.Order(), read.Keys.Order());
        foreach (var (name, expected) in tensors)
        {
            Assert.Equal(expected.dtype, read[name].dtype);
            Assert.Equal(expected.shape, read[name].shape);
            Assert.True(read[name].eq(expected).all().item<bool>(), name);
        }
    }

    [Fact]
    public void Stage_schedules_and_layer_groups_follow_matterport()
    {
        var stages = StageSchedule.Parse("heads:10,4+:10,all:10@0.0001", 0, 0.001);
        Assert.Equal(
            [("heads", 10, 0.001), ("4+", 10, 0.001), ("all", 10, 0.0001)],
            stages.Select(s => (s.Group, s.Epochs, s.LearningRate))
        );
        Assert.Throws<MaskRcnnException>(() => StageSchedule.Parse("heads:0", 1, 0.1));
        Assert.Throws<MaskRcnnException>(() => StageSchedule.Parse("bogus:3", 1, 0.1));

        using var model = new MaskRCNN(Config() with { Arch = "resnet18-fpn" });
        LayerGroups.Apply(model, "heads");
        var trainable = model.named_parameters().Where(p => p.parameter.requires_grad).Select(p => p.name).ToList();
        Assert.DoesNotContain(trainable, n => n.StartsWith("backbone.body."));
        Assert.Contains(
            trainable,
            n => n.StartsWith("rpn.") || n.StartsWith("roi_heads.") || n.StartsWith("backbone.fpn.")
        );
        LayerGroups.Apply(model, "4+");
        trainable = model.named_parameters().Where(p => p.parameter.requires_grad).Select(p => p.name).ToList();
        Assert.Contains(trainable, n => n.StartsWith("backbone.body.layer3."));
        Assert.DoesNotContain(trainable, n => n.StartsWith("backbone.body.layer2."));
        LayerGroups.Apply(model, "all");
        Assert.All(model.parameters(), p => Assert.True(p.requires_grad));
    }

    [Fact]
    public void Learning_rate_warms_up_then_follows_the_schedule()
    {
        using var model = new MaskRCNN(Config());
        var t = new Trainer(model, new Dataset("x", ["benign"], [], []), null, "unused");
        var cosine = Config().Training with { WarmupIters = 10, WarmupFactor = 0.1, Schedule = "cosine" };
        using var m2 = new MaskRCNN(Config() with { Training = cosine });
        var t2 = new Trainer(m2, new Dataset("x", ["benign"], [], []), null, "unused");
        Assert.Equal(0.1 * 0.1 * 1.0, t2.LearningRate(0.1, 0, 100), 9);
        Assert.Equal(0.1 * 0.5 * (1 + Math.Cos(Math.PI * 0.5)), t2.LearningRate(0.1, 50, 100), 9);
        var step = Config().Training with
        {
            WarmupIters = 0,
            Schedule = "step",
            StepMilestones = [0.5, 0.75],
            Gamma = 0.1,
        };
        using var m3 = new MaskRCNN(Config() with { Training = step });
        var t3 = new Trainer(m3, new Dataset("x", ["benign"], [], []), null, "unused");
        Assert.Equal(0.1, t3.LearningRate(0.1, 10, 100), 12);
        Assert.Equal(0.01, t3.LearningRate(0.1, 60, 100), 12);
        Assert.Equal(0.001, t3.LearningRate(0.1, 80, 100), 12);
    }
}
