using MaskRcnn.Config;
using MaskRcnn.Data.Phantoms;
using MaskRcnn.Tests.Training;
using MaskRcnn.Tuning;

namespace MaskRcnn.Tests.Tuning;

/// <summary>
/// A whole sweep on a tiny space (64-px phantoms, one step an epoch, rungs of 1 and 2 epochs): promotion from a
/// checkpoint, a failing trial recorded and passed over, a cancelled sweep resumed without redoing finished work.
/// </summary>
[Collection(nameof(SequentialTraining))]
public class SweepTests
{
    /// <summary>
    /// Three recipes (a small space: each is drawn exactly once), the third starting from a file that is not weights.
    /// </summary>
    static string Space(string badWeights) =>
        $$"""
            {
              "base": "cpu-quick",
              "params": {
                "recipe": { "choice": [
                  { "training.learning_rate": 0.01 },
                  { "training.learning_rate": 0.02, "training.augment": false },
                  { "training.start_from": "{{badWeights}}" } ] },
                "min_size": 64, "max_size": 64, "fpn_out_channels": 32, "representation_size": 64, "mask_layers": [32],
                "rpn_pre_nms_top_n_train": 100, "rpn_post_nms_top_n_train": 50, "rpn_pre_nms_top_n_test": 50,
                "rpn_post_nms_top_n_test": 20, "rpn_batch_size_per_image": 32, "box_batch_size_per_image": 16,
                "training.steps_per_epoch": 1, "training.warmup_iters": 1
              },
              "rungs": { "min_epochs": 1, "max_epochs": 2, "eta": 2 },
              "seed": 3
            }
            """;

    [Fact]
    public void A_cancelled_sweep_resumes_promotes_from_checkpoints_and_records_the_failed_trial()
    {
        using var tmp = new TestSupport.TempDir();
        PhantomDataset.Write(tmp["data"], 5, 4, 2, 0, 64);
        File.WriteAllText(tmp["bad.safetensors"], "not weights");
        File.WriteAllText(tmp["space.json"], Space(tmp["bad.safetensors"]));
        var options = new SweepOptions
        {
            Data = tmp["data"],
            Folder = tmp["sweep"],
            Space = SearchSpace.Load(tmp["space.json"]),
            BudgetMinutes = 30,
        };

        // First run: cancelled as its third job starts (the Trainer stops before its first step, with a checkpoint).
        using var cancel = new CancellationTokenSource();
        var first = new List<SweepProgress>();
        var stopped = Sweep.Run(
            options,
            p =>
            {
                first.Add(p);
                if (first.Count(x => x.Kind == "job") == 3)
                    cancel.Cancel();
            },
            cancel.Token
        );
        Assert.True(stopped.Stopped);
        var interrupted = stopped.Trials.Single(t => t.Status == TrialStatus.Stopped);
        var finishedBefore = stopped.Trials.Where(t => t != interrupted).ToDictionary(t => t.Id, t => t.Results.Count);
        Assert.Throws<MaskRcnnException>(() => Sweep.Run(options)); // the folder holds a sweep: resume or elsewhere

        // Resumed: the interrupted job continues first; no finished rung is trained again.
        var second = new List<SweepProgress>();
        var done = Sweep.Run(options with { Space = null, Resume = true, BudgetMinutes = 0 }, second.Add);
        var jobs = second.Where(p => p.Kind == "job").ToList();
        Assert.Equal(interrupted.Id, jobs[0].Trial!.Id);
        Assert.Contains("continues where it stopped", jobs[0].Message);
        Assert.All(jobs.Skip(1), j => Assert.True(j.Rung >= finishedBefore.GetValueOrDefault(j.Trial!.Id)));

        Assert.False(done.Stopped);
        Assert.Equal(3, done.Trials.Count);
        var failed = Assert.Single(done.Trials, t => t.Status == TrialStatus.Failed);
        Assert.Contains("bad.safetensors", failed.Error);
        Assert.Empty(failed.Results);
        // Promotion goes on from a checkpoint to 2 epochs, in the same run folder: one validation per rung. (Once the
        // first two trials finished rung 0 the better went on; the third, if better than that one, goes on too.)
        var complete = done.Trials.Where(t => t.Status == TrialStatus.Complete).ToList();
        Assert.InRange(complete.Count, 1, 2);
        Assert.All(complete, t => Assert.Equal([1, 2], t.Results.Select(r => r.Epochs)));
        Assert.Contains(done.Best!, complete);
        var best = done.Best!;
        string run = Path.Combine(tmp["sweep"], best.Folder);
        Assert.NotNull(TrialRunner.ValidationRow(Path.Combine(run, "metrics.jsonl"), 1));
        Assert.True(File.Exists(Path.Combine(run, "model_final.safetensors")));
        Assert.NotEmpty(Directory.GetFiles(run, "events.out.tfevents.*"));

        // best.json is a config file train --config takes; trials.csv has a row per trial.
        var bestConfig = MaskRcnnConfig.Load(Path.Combine(tmp["sweep"], SweepFiles.BestConfig));
        Assert.Equal(done.BestConfig!.ToJson(), bestConfig.ToJson());
        Assert.Equal(2, bestConfig.Training.Epochs);
        var csv = File.ReadAllLines(Path.Combine(tmp["sweep"], SweepFiles.Table));
        Assert.Equal(4, csv.Length);
        Assert.StartsWith("trial,status,epochs,segm_ap50,", csv[0]);
        Assert.Equal(done.Trials.Count, SweepResult.Read(tmp["sweep"]).Trials.Count);
        Assert.Contains(second, p => p.Kind == "message" && p.Message.StartsWith("sweep ended"));
    }

    [Fact]
    public void The_budget_stops_the_running_trial_with_a_checkpoint_and_a_larger_budget_continues_it()
    {
        using var tmp = new TestSupport.TempDir();
        PhantomDataset.Write(tmp["data"], 5, 4, 2, 0, 64);
        // One trial (the space's recipes with the learning rate drawn instead), the first rung only.
        var json = System.Text.Json.Nodes.JsonNode.Parse(Space("none"))!.AsObject();
        json["params"]!.AsObject().Remove("recipe");
        json["params"]!["training.learning_rate"] = System.Text.Json.Nodes.JsonNode.Parse(
            """{ "loguniform": [0.005, 0.05] }"""
        );
        json["max_trials"] = 1;
        string space = json.ToJsonString();
        var options = new SweepOptions
        {
            Data = tmp["data"],
            Folder = tmp["sweep"],
            Space = SearchSpace.Parse(space, "space.json"),
            // 9 s: the set-up before the first job (data, model) must fit in it while the suite's other tests run;
            // 1.8 s did not on CI (the budget ran out before the trial started).
            BudgetMinutes = 0.15,
        };
        // The budget runs out as the first job starts (the reporter waits for it): the job stops before its first step.
        var spent = Sweep.Run(
            options,
            p =>
            {
                if (p.Kind == "job")
                    Thread.Sleep(p.Left + TimeSpan.FromMilliseconds(200));
            }
        );
        Assert.False(spent.Stopped);
        Assert.Equal("the budget is spent", spent.State.Ended);
        var trial = Assert.Single(spent.Trials);
        Assert.Equal(TrialStatus.Stopped, trial.Status);
        Assert.True(File.Exists(Path.Combine(tmp["sweep"], trial.Folder, "checkpoint_last.safetensors")));

        var more = Sweep.Run(options with { Space = null, Resume = true, BudgetMinutes = 30 }, null);
        Assert.Equal(TrialStatus.Waiting, more.Trials[0].Status); // finished its first rung
        Assert.Equal(1, more.Trials[0].Results[0].Epochs);
    }

    [Fact]
    public void The_cli_reports_a_bad_space_or_a_used_folder_in_one_error_line()
    {
        using var tmp = new TestSupport.TempDir();
        File.WriteAllText(tmp["space.json"], """{ "params": { "training.lr": { "uniform": [0.1, 0.2] } } }""");
        var (code, _, err) = TestSupport.RunCli(
            "sweep",
            "--data",
            tmp["data"],
            "--space",
            tmp["space.json"],
            "--budget",
            "1",
            "--out",
            tmp["sweep"]
        );
        Assert.Equal(1, code);
        Assert.StartsWith("error: ", err);
        Assert.Contains("training.lr", err);
        Assert.Single(err.Trim().Split('\n'));

        // A usable space on a missing data folder: one line, and no sweep folder left behind to refuse a retry.
        File.WriteAllText(tmp["space.json"], """{ "params": {} }""");
        (code, _, err) = TestSupport.RunCli(
            "sweep",
            "--data",
            tmp["data"],
            "--space",
            tmp["space.json"],
            "--budget",
            "1",
            "--out",
            tmp["sweep"]
        );
        Assert.Equal(1, code);
        Assert.Equal($"error: data folder not found: {tmp["data"]}", err.Trim());
        Assert.False(Directory.Exists(tmp["sweep"]));

        Directory.CreateDirectory(tmp["sweep"]);
        File.WriteAllText(Path.Combine(tmp["sweep"], SweepFiles.State), "{}");
        (code, _, err) = TestSupport.RunCli(
            "sweep",
            "--data",
            tmp["data"],
            "--space",
            tmp["space.json"],
            "--budget",
            "1",
            "--out",
            tmp["sweep"]
        );
        Assert.Equal(1, code);
        Assert.Contains("already holds a sweep", err);
        Assert.Single(err.Trim().Split('\n'));
    }
}
