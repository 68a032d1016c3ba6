using System.Diagnostics;
using MaskRcnn.Data.Coco;
using MaskRcnn.Modeling.Ops;
using TorchSharp;
using static TorchSharp.torch;

namespace MaskRcnn.Tests.Modeling;

/// <summary>
/// End-to-end parity with torchvision 0.14: a maskrcnn_resnet50_fpn(num_classes=3) checkpoint saved by
/// torchvision, in both key layouts, run through `maskrcnn predict`, must reproduce torchvision's detections.
/// The case (≈380 MB) is built on demand by tests/parity/make_parity.py with Debian's python3-torchvision;
/// without it the test is skipped.
/// </summary>
public class TorchvisionParityTests
{
    static readonly object Gate = new();
    static string Dir => Path.Combine(TestSupport.RepoRoot, "artifacts", "parity");

    static void EnsureCase()
    {
        lock (Gate)
        {
            if (File.Exists(Path.Combine(Dir, "expected.pt")))
                return;
            Skip.IfNot(
                File.Exists("/usr/bin/python3") && Directory.Exists("/usr/lib/python3/dist-packages/torchvision"),
                "the reference needs Debian's python3-torchvision (apt-get install -y python3-torchvision)"
            );
            var psi = new ProcessStartInfo("/usr/bin/python3")
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            psi.ArgumentList.Add(Path.Combine(TestSupport.RepoRoot, "tests", "parity", "make_parity.py"));
            psi.ArgumentList.Add(Dir);
            using var p = Process.Start(psi)!;
            string err = p.StandardError.ReadToEnd();
            p.WaitForExit();
            Assert.True(p.ExitCode == 0, $"make_parity.py failed: {err}");
        }
    }

    [SkippableTheory]
    [InlineData("weights_new.pth")]
    [InlineData("weights_old.pth")]
    public void Predict_reproduces_torchvision_detections(string weights)
    {
        EnsureCase();
        using var scope = NewDisposeScope();
        string json = Path.Combine(Dir, $"ours_{Path.GetFileNameWithoutExtension(weights)}.json");
        var (code, stdout, stderr) = TestSupport.RunCli(
            "predict",
            "--weights",
            Path.Combine(Dir, weights),
            "--min-size",
            "512",
            "--max-size",
            "512",
            "--score-threshold",
            "0.05",
            "--image",
            Path.Combine(Dir, "image.png"),
            "--coco-json",
            json
        );
        Assert.True(code == 0, stderr + stdout);

        var expected = Fixtures.LoadFrom(Path.Combine(Dir, "expected.pt"));
        var ours = CocoResults.Read(json);
        var oursBoxes = tensor(
                ours.SelectMany(r => new[] { r.Bbox[0], r.Bbox[1], r.Bbox[0] + r.Bbox[2], r.Bbox[1] + r.Bbox[3] })
                    .Select(v => (float)v)
                    .ToArray()
            )
            .view(-1, 4);
        var theirsBoxes = expected["boxes"];
        long n = theirsBoxes.shape[0];
        Assert.True(n >= 20, $"the reference has only {n} detections");
        var iou = BoxOps.BoxIou(theirsBoxes, oursBoxes);
        var theirLabels = expected["labels"].data<long>().ToArray();
        var theirScores = expected["scores"].data<float>().ToArray();
        var used = new bool[ours.Count];
        int matched = 0;
        var misses = new List<string>();
        for (int i = 0; i < n; i++)
        {
            int best = -1;
            double bestIou = 0;
            for (int j = 0; j < ours.Count; j++)
            {
                if (used[j] || ours[j].CategoryId != theirLabels[i])
                    continue;
                double v = iou[i, j].item<float>();
                if (v > bestIou)
                    (best, bestIou) = (j, v);
            }
            if (best < 0 || bestIou < 0.99 || Math.Abs(ours[best].Score - theirScores[i]) > 1e-3)
            {
                misses.Add($"#{i} label {theirLabels[i]} score {theirScores[i]:F4}: best IoU {bestIou:F4}");
                continue;
            }
            var ourMask = Rle.Decode(ours[best].Segmentation!.ToMask());
            var theirMask = expected["masks"][i].to(@bool);
            double maskIou =
                ourMask.logical_and(theirMask).sum().item<long>()
                / (double)Math.Max(1, ourMask.logical_or(theirMask).sum().item<long>());
            if (maskIou < 0.98)
            {
                misses.Add($"#{i}: mask IoU {maskIou:F4}");
                continue;
            }
            used[best] = true;
            matched++;
        }
        Assert.True(matched >= Math.Ceiling(0.99 * n), $"{matched}/{n} matched: {string.Join("; ", misses.Take(10))}");
        Assert.True(ours.Count <= n + (n - matched), $"{ours.Count} detections vs torchvision's {n}: extra detections");
        Assert.True(used.Count(u => !u) <= n - matched, "unmatched extra detections");
    }
}
