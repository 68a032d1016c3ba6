using MaskRcnn.Config;
using MaskRcnn.Data;
using MaskRcnn.Data.Phantoms;
using MaskRcnn.Modeling;
using MaskRcnn.Tuning;
using TorchSharp;
using static TorchSharp.torch;

namespace MaskRcnn.Tests.Tuning;

/// <summary>Anchors against the lesions after the resize: the model's own anchors, the warnings, the suggestion.</summary>
public class AnchorFitTests
{
    [Theory]
    [InlineData(32, 130, 170)]
    [InlineData(1, 101, 133)]
    public void The_anchors_laid_over_a_padded_image_are_the_models_own(int sizeDivisible, int height, int width)
    {
        using var scope = NewDisposeScope();
        var config = new MaskRcnnConfig
        {
            Arch = "resnet18-fpn",
            NumClasses = 3,
            MinSize = [100],
            MaxSize = 150,
            SizeDivisible = sizeDivisible,
            ClassNames = Presets.LesionClasses,
        };
        manual_seed(1);
        using var model = new MaskRCNN(config);
        model.eval();
        using var inspected = Inspector.Inspect(model, rand(3, height, width));
        var (h, w) = config.ToTransform().ResizedSize(height, width);
        long padH = (h + sizeDivisible - 1) / sizeDivisible * sizeDivisible,
            padW = (w + sizeDivisible - 1) / sizeDivisible * sizeDivisible;
        var (anchors, perLevel) = config
            .ToAnchorGenerator()
            .Forward((padH, padW), AnchorFit.FeatureSizes(padH, padW, 5), float32, CPU);
        Assert.Equal(inspected.AnchorsPerLevel, perLevel);
        Assert.Equal(inspected.Anchors.shape, anchors.shape);
        Assert.True(anchors.eq(inspected.Anchors).all().item<bool>());
    }

    [Fact]
    public void Lesion_boxes_are_the_training_boxes_scaled_by_the_resize()
    {
        using var tmp = new TestSupport.TempDir();
        PhantomDataset.Write(tmp.Path, 2, 6, 0, 0, 64);
        var data = DatasetLoader.LoadSplit(tmp.Path, "train");
        var config = Presets.CpuQuick() with { MinSize = [128], MaxSize = 128 };
        var lesions = LesionGeometry.Of(data, config);
        Assert.Equal(data.RegionsUsed, lesions.Count);
        int k = 0;
        for (int i = 0; i < data.Count; i++)
        {
            using var sample = data.Load(i);
            if (sample.Boxes.numel() == 0)
                continue;
            var boxes = sample.Boxes.contiguous().data<float>().ToArray();
            for (int j = 0; j < boxes.Length / 4; j++, k++)
            {
                Assert.Equal(2 * boxes[4 * j], lesions[k].X1, 3);
                Assert.Equal(2 * boxes[4 * j + 3], lesions[k].Y2, 3);
                Assert.Equal(128, lesions[k].PaddedWidth);
            }
        }
    }

    [Fact]
    public void Small_lesions_are_warned_about_and_the_suggested_anchors_cover_more_of_them()
    {
        // Lesions of 9–15 px, wide and tall, at positions between the anchors' grid points, in 256-px images.
        var lesions = new List<LesionBox>();
        var random = new Random(4);
        for (int i = 0; i < 60; i++)
        {
            double size = 9 + 6 * random.NextDouble(),
                ratio = Math.Exp((random.NextDouble() - 0.5) * 1.2);
            double w = size / Math.Sqrt(ratio),
                h = size * Math.Sqrt(ratio);
            double x = 20 + 200 * random.NextDouble(),
                y = 20 + 200 * random.NextDouble();
            lesions.Add(new LesionBox($"{i}.png", x, y, x + w, y + h, 256, 256));
        }
        var config = Presets.CpuQuick(); // smallest anchor 16 px
        var fit = AnchorFit.Analyze(lesions, config);
        Assert.Equal(60, fit.Lesions);
        Assert.True(fit.BelowSmallestAnchor > 30, $"{fit.BelowSmallestAnchor}");
        Assert.Contains(fit.Warnings, w => w.Contains("smaller than the smallest anchor (16 px)"));
        Assert.Contains(fit.Warnings, w => w.Contains("no anchor at IoU ≥ 0.7"));
        Assert.Equal(60, fit.PerLevel.Sum());
        Assert.Equal(fit.Details.Count(d => d.BestIou >= 0.7) / 60.0, fit.ShareMatched!.Value, 6);

        var suggestion = AnchorSuggestions.Suggest(lesions, config);
        Assert.True(suggestion.AnchorSizes[0].Min() < 16);
        Assert.True(
            suggestion.Fit.ShareMatched > fit.ShareMatched,
            $"{suggestion.Fit.ShareMatched} vs {fit.ShareMatched}"
        );
        Assert.True(suggestion.Fit.MedianBestIou > fit.MedianBestIou);
        Assert.Empty(suggestion.Apply(config).Problems()); // a configuration the model takes
        // No square lesion this small can promise IoU 0.7 with anchors 4 px apart: the report says so.
        Assert.InRange(fit.GridLimit, 21, 22);
        Assert.Contains(fit.Warnings, w => w.Contains("a larger min_size"));
    }

    [Fact]
    public void Inspect_data_reports_the_fit_and_suggests_anchors_in_its_json()
    {
        using var tmp = new TestSupport.TempDir();
        PhantomDataset.Write(tmp.Path, 3, 4, 0, 0, 256);
        string annotations = Path.Combine(tmp.Path, "train", DatasetLoader.AnnotationFile);
        var (code, stdout, err) = TestSupport.RunCli(
            "inspect-data",
            "--annotations",
            annotations,
            "--preset",
            "walkthrough",
            "--suggest-anchors",
            "--json",
            tmp["fit.json"]
        );
        Assert.True(code == 0, err);
        Assert.Contains("anchors of walkthrough (min_size 256, max_size 256)", stdout);
        Assert.Contains("suggested anchors:", stdout);
        using var json = System.Text.Json.JsonDocument.Parse(File.ReadAllText(tmp["fit.json"]));
        var fit = json.RootElement.GetProperty("anchor_fit");
        Assert.True(fit.GetProperty("lesions").GetInt32() > 0);
        Assert.Equal(0.7, fit.GetProperty("positive_iou").GetDouble());
        var suggested = json.RootElement.GetProperty("suggested_anchors").GetProperty("fit");
        Assert.True(
            suggested.GetProperty("share_with_positive_anchor").GetDouble()
                >= fit.GetProperty("share_with_positive_anchor").GetDouble()
        );
        (code, _, err) = TestSupport.RunCli("inspect-data", "--annotations", annotations, "--preset", "fast");
        Assert.Equal(1, code);
        Assert.StartsWith("error: unknown preset 'fast'", err);
    }
}
