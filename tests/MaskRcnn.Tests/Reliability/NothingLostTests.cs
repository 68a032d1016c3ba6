using System.Text.Json.Nodes;
using MaskRcnn.Data;
using MaskRcnn.Data.Busi;
using MaskRcnn.Data.Via;
using MaskRcnn.IO;
using MaskRcnn.Tests.Training;
using static MaskRcnn.Tests.Reliability.ReliabilityData;

namespace MaskRcnn.Tests.Reliability;

/// <summary>
/// Nothing lost (issue 28): one process at a time in a run folder, data folders never replaced without --overwrite,
/// and every file the CLI writes written whole or not at all — never onto its own inputs, annotations or a run's files.
/// </summary>
[Collection(nameof(SequentialTraining))]
public class NothingLostTests
{
    /// <summary>Every file under <paramref name="dir"/> with its bytes.</summary>
    static Dictionary<string, byte[]> Snapshot(string dir) =>
        Directory
            .EnumerateFiles(dir, "*", SearchOption.AllDirectories)
            .ToDictionary(f => Path.GetRelativePath(dir, f), File.ReadAllBytes);

    static void AssertUnchanged(Dictionary<string, byte[]> before, string dir)
    {
        var after = Snapshot(dir);
        Assert.Equal(before.Keys.Order(), after.Keys.Order());
        foreach (var (name, bytes) in before)
            Assert.True(bytes.AsSpan().SequenceEqual(after[name]), $"{name} changed");
    }

    [Fact]
    public void A_run_folder_in_use_is_refused_naming_the_process_that_holds_it()
    {
        using var tmp = new TestSupport.TempDir();
        string data = DataFolder(tmp),
            config = ConfigFile(tmp),
            run = tmp["run"];
        using (RunLock.Acquire(run)) // this test process holds the folder, as a running train would
        {
            foreach (var extra in new[] { Array.Empty<string>(), ["--overwrite"] })
                AssertOneError(
                    TestSupport.RunCli(TrainArgs(data, config, run, extra)),
                    run,
                    $"PID {Environment.ProcessId}"
                );
            Assert.Equal([RunLock.FileName], Directory.GetFileSystemEntries(run).Select(Path.GetFileName));
            Assert.Equal($"{Environment.ProcessId}", File.ReadAllText(Path.Combine(run, RunLock.FileName)).Trim());
        }
        Assert.Empty(Directory.GetFileSystemEntries(run)); // released: the lock file is gone
        var (code, _, err) = TestSupport.RunCli(TrainArgs(data, config, run));
        Assert.True(code == 0, err);
        Assert.False(File.Exists(Path.Combine(run, RunLock.FileName)));
    }

    [Fact]
    public void A_killed_run_leaves_no_lock_behind()
    {
        using var tmp = new TestSupport.TempDir();
        string data = DataFolder(tmp),
            config = ConfigFile(tmp),
            run = tmp["run"];
        var (code, stdout, err) = RunCliAndSignal(
            "training layer group",
            9, // SIGKILL: no handler runs; the kernel releases the lock
            TrainArgs(data, config, run, "--steps-per-epoch", "100000")
        );
        Assert.True(code == 137, $"exit {code}\n{stdout}\n{err}");
        using (RunLock.Acquire(run)) { }
    }

    [Fact]
    public void The_lock_is_reentrant_within_a_process_and_exclusive_between_processes()
    {
        using var tmp = new TestSupport.TempDir();
        string run = tmp["run"];
        using (var outer = RunLock.Acquire(run))
        {
            using (RunLock.Acquire(run)) { } // the Trainer inside the CLI takes it again
            Assert.True(RunLock.IsHeld(run));
            Assert.True(File.Exists(Path.Combine(run, RunLock.FileName)));
        }
        Assert.False(RunLock.IsHeld(run));
    }

    [Fact]
    public void Generate_phantoms_and_import_busi_refuse_a_folder_holding_data_unless_told_to_overwrite()
    {
        using var tmp = new TestSupport.TempDir();
        string data = DataFolder(tmp);
        File.WriteAllText(Path.Combine(data, "notes.txt"), "hand annotation, 6 hours");
        var before = Snapshot(data);

        AssertOneError(
            TestSupport.RunCli("generate-phantoms", "--out", data, "--seed", "9", "--train", "1", "--size", "64"),
            data,
            "--overwrite"
        );
        AssertUnchanged(before, data);

        string busi = tmp["busi"];
        foreach (var cls in BusiImporter.Classes)
            Directory.CreateDirectory(Path.Combine(busi, cls));
        GrayPng(Path.Combine(busi, "benign", "b (1).png"), 40, 40);
        GrayPng(Path.Combine(busi, "benign", "b (1)_mask.png"), 40, 40, 255);
        AssertOneError(TestSupport.RunCli("import-busi", "--busi", busi, "--out", data), data, "--overwrite");
        AssertUnchanged(before, data);

        // A failing import with --overwrite (no images) also leaves the folder as it was.
        string empty = tmp["empty-busi"];
        Directory.CreateDirectory(empty);
        var (code, _, err) = TestSupport.RunCli("import-busi", "--busi", empty, "--out", data, "--overwrite");
        Assert.Equal(1, code);
        AssertUnchanged(before, data);
        Assert.DoesNotContain(Directory.GetFileSystemEntries(data), e => Path.GetFileName(e).StartsWith('.'));

        // With --overwrite the splits are replaced, and nothing else is touched.
        (code, _, err) = TestSupport.RunCli(
            "generate-phantoms",
            "--out",
            data,
            "--seed",
            "9",
            "--train",
            "1",
            "--val",
            "0",
            "--test",
            "0",
            "--size",
            "64",
            "--overwrite"
        );
        Assert.True(code == 0, err);
        Assert.Single(Directory.GetFiles(Path.Combine(data, "train"), "*.png"));
        Assert.Equal("hand annotation, 6 hours", File.ReadAllText(Path.Combine(data, "notes.txt")));
        Assert.DoesNotContain(Directory.GetFileSystemEntries(data), e => Path.GetFileName(e).StartsWith('.'));

        // A new folder is fine, and the import never writes into the folder it reads.
        (code, _, err) = TestSupport.RunCli("import-busi", "--busi", busi, "--out", tmp["imported"]);
        Assert.True(code == 0, err);
        AssertOneError(TestSupport.RunCli("import-busi", "--busi", busi, "--out", Path.Combine(busi, "out")), busi);
    }

    [Fact]
    public void A_write_that_fails_leaves_the_previous_file_and_no_temporary()
    {
        using var tmp = new TestSupport.TempDir();
        string path = tmp["metrics.json"];
        File.WriteAllText(path, "previous");
        File.WriteAllText(path + ".tmp", "the user's own file"); // the name a fixed temporary would have taken
        Assert.Throws<IOException>(() =>
            AtomicFile.Write(
                path,
                s =>
                {
                    s.Write("half of the new"u8);
                    throw new IOException("No space left on device");
                }
            )
        );
        Assert.Equal("previous", File.ReadAllText(path));
        Assert.Equal("the user's own file", File.ReadAllText(path + ".tmp"));
        Assert.Equal(2, Directory.GetFiles(tmp.Path).Length);

        AtomicFile.WriteAllText(path, "new");
        Assert.Equal("new", File.ReadAllText(path));
        Assert.Equal("the user's own file", File.ReadAllText(path + ".tmp"));
    }

    [Fact]
    public void Outputs_are_never_written_onto_inputs_annotations_or_a_runs_files()
    {
        using var tmp = new TestSupport.TempDir();
        string data = DataFolder(tmp),
            config = ConfigFile(tmp),
            run = tmp["run"];
        var (code, _, err) = TestSupport.RunCli(TrainArgs(data, config, run));
        Assert.True(code == 0, err);
        var dataBefore = Snapshot(data);
        var runBefore = Snapshot(run);
        string annotations = ViaPath(data, "test"),
            image = Path.Combine(data, "test", "phantom_test_0000.png");

        AssertOneError(TestSupport.RunCli("export-coco", "--data", data, "--out", annotations), annotations);
        AssertOneError(TestSupport.RunCli("export-coco", "--data", data, "--out", tmp.Path), tmp.Path, "folder");
        AssertOneError(
            TestSupport.RunCli(
                "evaluate",
                "--data",
                data,
                "--weights",
                run,
                "--json",
                Path.Combine(run, "config.json")
            ),
            "config.json"
        );
        AssertOneError(TestSupport.RunCli("predict", "--weights", run, "--image", image, "--coco-json", image), image);
        AssertOneError(
            TestSupport.RunCli("inspect-data", "--annotations", annotations, "--json", annotations),
            annotations
        );
        // Whatever its name: hand annotations, an image or weights that are not this command's inputs.
        string project = tmp["my_project.json"];
        File.Copy(annotations, project);
        AssertOneError(
            TestSupport.RunCli("inspect-data", "--annotations", ViaPath(data, "train"), "--json", project),
            project,
            "VIA annotations"
        );
        AssertOneError(
            TestSupport.RunCli(
                "export-coco",
                "--data",
                data,
                "--out",
                Path.Combine(data, "train", "phantom_train_0000.png")
            ),
            "image"
        );
        AssertOneError(
            TestSupport.RunCli(
                "evaluate",
                "--data",
                data,
                "--weights",
                run,
                "--json",
                Path.Combine(run, "checkpoint_last.safetensors")
            ),
            "checkpoint_last.safetensors"
        );
        Assert.Equal(File.ReadAllBytes(annotations), File.ReadAllBytes(project));
        AssertUnchanged(dataBefore, data);
        AssertUnchanged(runBefore, run);

        // Outputs land whole beside a user's PATH.tmp, which stays as it was.
        string coco = tmp["gt.json"];
        File.WriteAllText(coco + ".tmp", "mine");
        (code, _, err) = TestSupport.RunCli("export-coco", "--data", data, "--out", coco);
        Assert.True(code == 0, err);
        Assert.NotNull(JsonNode.Parse(File.ReadAllText(coco)));
        Assert.Equal("mine", File.ReadAllText(coco + ".tmp"));
        Assert.Equal(2, Directory.GetFiles(tmp.Path, "gt.json*").Length);
    }

    [Fact]
    public void A_signal_during_the_last_epochs_validation_stops_with_a_checkpoint_that_resumes_to_the_end()
    {
        using var tmp = new TestSupport.TempDir();
        string data = DataFolder(tmp, train: 2, val: 24, test: 0),
            config = ConfigFile(tmp, c => c with { Training = c.Training with { ValidateEvery = 1 } }),
            run = tmp["run"];
        // The last step's progress line: what follows is the last epoch's validation (24 images).
        var (code, stdout, err) = RunCliAndSignal("epoch 1/1 step 1/1", SIGTERM, TrainArgs(data, config, run));
        Assert.True(code == 143, $"exit {code}\n{stdout}\n{err}");
        Assert.Contains("--resume", stdout);
        Assert.True(File.Exists(Path.Combine(run, "checkpoint_last.safetensors")));
        Assert.False(File.Exists(Path.Combine(run, "model_final.safetensors")));

        (code, stdout, err) = TestSupport.RunCli(TrainArgs(data, config, run, "--resume"));
        Assert.True(code == 0, $"exit {code}\n{stdout}\n{err}");
        Assert.True(File.Exists(Path.Combine(run, "model_final.safetensors")));
        Assert.Contains(Metrics(run), r => r.GetProperty("type").GetString() == "val");
    }
}
