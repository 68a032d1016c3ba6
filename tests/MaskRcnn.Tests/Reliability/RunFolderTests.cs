using MaskRcnn.Data;
using MaskRcnn.Modeling;
using MaskRcnn.Tests.Training;
using MaskRcnn.Training;
using MaskRcnn.Weights;
using static MaskRcnn.Tests.Reliability.ReliabilityData;
using static TorchSharp.torch;

namespace MaskRcnn.Tests.Reliability;

/// <summary>Run folders (issue 23): nothing lost by a forgotten flag, a signal, a kill -9 or a resume.</summary>
[Collection(nameof(SequentialTraining))]
public class RunFolderTests
{
    [Fact]
    public void Train_refuses_a_folder_holding_a_run_unless_told_to_resume_or_overwrite()
    {
        using var tmp = new TestSupport.TempDir();
        string data = DataFolder(tmp),
            config = ConfigFile(tmp),
            run = tmp["run"];
        var (code, _, err) = TestSupport.RunCli(TrainArgs(data, config, run));
        Assert.True(code == 0, err);
        string final = Path.Combine(run, "model_final.safetensors"),
            metrics = Path.Combine(run, "metrics.jsonl");
        byte[] model = File.ReadAllBytes(final);
        string rows = File.ReadAllText(metrics);

        (code, _, err) = TestSupport.RunCli(TrainArgs(data, config, run));
        Assert.Equal(1, code);
        Assert.Single(Lines(err));
        Assert.Contains(run, err);
        Assert.Contains("--resume", err);
        Assert.Contains("--overwrite", err);
        Assert.Equal(model, File.ReadAllBytes(final));
        Assert.Equal(rows, File.ReadAllText(metrics));

        (code, _, err) = TestSupport.RunCli(TrainArgs(data, config, run, "--resume", "--overwrite"));
        Assert.Equal(1, code);
        Assert.Single(Lines(err));

        // --overwrite starts afresh: the old run's TensorBoard events do not mix with the new ones.
        (code, _, err) = TestSupport.RunCli(TrainArgs(data, config, run, "--overwrite"));
        Assert.True(code == 0, err);
        Assert.Single(Directory.GetFiles(run, "events.out.tfevents.*"));
        Assert.Equal(1, Metrics(run).Count(r => r.GetProperty("type").GetString() == "train"));
    }

    [Fact]
    public void Resume_on_a_missing_folder_or_checkpoint_is_an_error_that_creates_nothing()
    {
        using var tmp = new TestSupport.TempDir();
        string data = DataFolder(tmp),
            config = ConfigFile(tmp);
        var (code, _, err) = TestSupport.RunCli(TrainArgs(data, config, tmp["missing"], "--resume"));
        Assert.Equal(1, code);
        Assert.Single(Lines(err));
        Assert.Contains(tmp["missing"], err);
        Assert.False(Directory.Exists(tmp["missing"]), "resume created the run folder");

        Directory.CreateDirectory(tmp["empty"]);
        (code, _, err) = TestSupport.RunCli(TrainArgs(data, config, tmp["empty"], "--resume"));
        Assert.Equal(1, code);
        Assert.Single(Lines(err));
        Assert.Contains("checkpoint_last.safetensors", err);
        Assert.Empty(Directory.GetFileSystemEntries(tmp["empty"]));
    }

    [Fact]
    public void Training_in_a_folder_removes_checkpoint_temporaries_left_by_a_kill()
    {
        using var tmp = new TestSupport.TempDir();
        string data = DataFolder(tmp),
            config = ConfigFile(tmp),
            run = tmp["run"];
        var (code, _, err) = TestSupport.RunCli(TrainArgs(data, config, run));
        Assert.True(code == 0, err);
        // What kill -9 during Checkpoint.Save leaves: SafetensorsFile writes PATH.PID.tmp, then renames it.
        string[] stale =
        [
            Path.Combine(run, "checkpoint_last.safetensors.424242.tmp"),
            Path.Combine(run, "model_final.safetensors.77.tmp"),
        ];
        foreach (var f in stale)
            File.WriteAllBytes(f, new byte[4096]);

        (code, var stdout, err) = TestSupport.RunCli(TrainArgs(data, config, run, "--resume"));
        Assert.True(code == 0, err);
        foreach (var f in stale)
            Assert.False(File.Exists(f), $"{f} is still there");
        Assert.Contains("checkpoint_last.safetensors.424242.tmp", stdout);
    }

    [Fact]
    public void Resume_after_a_kill_does_not_duplicate_metrics_rows()
    {
        using var tmp = new TestSupport.TempDir();
        DataFolder(tmp, train: 4, val: 0, test: 0);
        var train = DatasetLoader.LoadSplit(tmp["data"], "train");
        var config = SmallConfig() with { Training = SmallConfig().Training with { Epochs = 2, StepsPerEpoch = 2 } };
        string run = tmp["run"];
        TrainingResult Run(bool resume, long? stop)
        {
            manual_seed(1);
            using var model = new MaskRCNN(config);
            return new Trainer(model, train, null, run).Run(resume, stopAfterIteration: stop);
        }

        Assert.True(Run(resume: false, stop: 2).Stopped); // checkpoint at iteration 2
        string last = Path.Combine(run, "checkpoint_last.safetensors");
        File.Copy(last, tmp["at-2.safetensors"]);
        Assert.True(Run(resume: true, stop: 3).Stopped); // row 3 written, checkpoint at 3
        File.Copy(tmp["at-2.safetensors"], last, overwrite: true); // as if killed before that checkpoint
        Assert.False(Run(resume: true, stop: null).Stopped); // iterations 3 and 4 again

        var iterations = Metrics(run)
            .Where(r => r.GetProperty("type").GetString() == "train")
            .Select(r => r.GetProperty("iteration").GetInt64())
            .ToList();
        Assert.Equal([1L, 2L, 3L, 4L], iterations);
        Assert.Equal(
            [1, 2],
            Metrics(run)
                .Where(r => r.GetProperty("type").GetString() == "epoch")
                .Select(r => r.GetProperty("epoch").GetInt32())
                .ToList()
        );
    }

    [Theory]
    [InlineData(SIGTERM, 143, false)]
    [InlineData(SIGINT, 130, false)]
    // a background job of a non-interactive shell (nohup, `cmd &` in a script) starts with SIGINT ignored
    [InlineData(SIGINT, 130, true)]
    public void A_signal_stops_training_with_a_resumable_checkpoint_and_a_non_zero_exit(
        int signal,
        int expected,
        bool interruptIgnored
    )
    {
        using var tmp = new TestSupport.TempDir();
        string data = DataFolder(tmp),
            config = ConfigFile(tmp),
            run = tmp["run"];
        var (code, stdout, err) = RunCliAndSignal(
            "training layer group",
            signal,
            TrainArgs(data, config, run, "--steps-per-epoch", "100000"),
            interruptIgnored
        );
        Assert.True(code == expected, $"exit {code}\n{stdout}\n{err}");
        Assert.Contains("--resume", stdout);
        var checkpoint = Checkpoint.Read(Path.Combine(run, "checkpoint_last.safetensors"));
        foreach (var t in checkpoint.Model.Values)
            t.Dispose();
        foreach (var t in checkpoint.Optimizer.Values)
            t.Dispose();
        Assert.False(checkpoint.State!.Finished);
        Assert.False(File.Exists(Path.Combine(run, "model_final.safetensors")));
    }
}
