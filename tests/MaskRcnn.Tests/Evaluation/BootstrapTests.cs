using MaskRcnn.Evaluation;

namespace MaskRcnn.Tests.Evaluation;

/// <summary>
/// The percentile bootstrap on cases whose answer is known, and the resampled AP50 against the COCO evaluator.
/// </summary>
public class BootstrapTests
{
    [Fact]
    public void Interval_of_a_mean_matches_the_normal_theory_interval()
    {
        // 400 draws of a fair coin (0/1): the mean's 95 % interval is about p ± 1.96 √(p(1−p)/n) = ± 0.049.
        var random = new Random(5);
        var values = Enumerable.Range(0, 400).Select(_ => (double)random.Next(2)).ToArray();
        double mean = values.Average();
        double halfWidth = 1.96 * Math.Sqrt(mean * (1 - mean) / values.Length);
        var interval = Bootstrap.Percentile(values.Length, sample => sample.Average(i => values[i]), 2000);
        Assert.Equal(mean, interval.Estimate, 12);
        Assert.InRange(interval.Low, mean - halfWidth * 1.15, mean - halfWidth * 0.85);
        Assert.InRange(interval.High, mean + halfWidth * 0.85, mean + halfWidth * 1.15);
    }

    [Fact]
    public void Constant_data_give_a_zero_width_interval_and_seeds_repeat()
    {
        var constant = Bootstrap.Percentile(30, _ => 0.7);
        Assert.Equal((0.7, 0.7, 0.7), (constant.Estimate, constant.Low, constant.High));
        var values = Enumerable.Range(0, 50).Select(i => Math.Sin(i)).ToArray();
        double Mean(IReadOnlyList<int> s) => s.Average(i => values[i]);
        Assert.Equal(Bootstrap.Percentile(50, Mean, seed: 3), Bootstrap.Percentile(50, Mean, seed: 3));
        Assert.NotEqual(Bootstrap.Percentile(50, Mean, seed: 3), Bootstrap.Percentile(50, Mean, seed: 4));
    }

    [Fact]
    public void Statistics_evaluated_together_see_the_same_resamples()
    {
        // The difference of a statistic with itself is 0 on every resample: its interval is [0, 0].
        var values = Enumerable.Range(0, 40).Select(i => (double)(i % 7)).ToArray();
        double Mean(IReadOnlyList<int> s) => s.Average(i => values[i]);
        var intervals = Bootstrap.Together(40, [Mean, s => Mean(s) - Mean(s), s => Mean(s) + 1]);
        Assert.Equal((0.0, 0.0), (intervals[1].Low, intervals[1].High));
        Assert.Equal(intervals[0].Low + 1, intervals[2].Low, 12);
        Assert.Equal(intervals[0].High + 1, intervals[2].High, 12);
        Assert.True(intervals[0].Overlaps(intervals[2]));
    }

    [Fact]
    public void Quantile_interpolates_between_order_statistics_as_numpy()
    {
        double[] sorted = [1, 2, 3, 4];
        Assert.Equal(1.075, Bootstrap.Quantile(sorted, 0.025), 12); // numpy.percentile([1,2,3,4], 2.5)
        Assert.Equal(3.925, Bootstrap.Quantile(sorted, 0.975), 12);
        Assert.Equal(2.5, Bootstrap.Quantile(sorted, 0.5), 12);
    }

    static (List<GtObject> Gts, List<DtObject> Dts, long[] Ids) RandomDetections(int seed)
    {
        var random = new Random(seed);
        var gts = new List<GtObject>();
        var dts = new List<DtObject>();
        var ids = Enumerable.Range(1, 25).Select(i => (long)i).ToArray();
        foreach (long id in ids)
        {
            for (int g = 0; g < random.Next(0, 3); g++)
            {
                double x = random.Next(0, 200),
                    y = random.Next(0, 200),
                    w = random.Next(10, 60),
                    h = random.Next(10, 60);
                int category = random.Next(1, 3);
                gts.Add(new GtObject(id, category, [x, y, w, h], null, w * h, IsCrowd: random.Next(12) == 0));
                // a near hit, sometimes in the wrong class, and sometimes a duplicate
                double dx = random.Next(-8, 9),
                    dy = random.Next(-8, 9);
                int predicted = random.Next(5) == 0 ? 3 - category : category;
                dts.Add(new DtObject(id, predicted, [x + dx, y + dy, w, h], Math.Round(random.NextDouble(), 2), null));
                if (random.Next(3) == 0)
                    dts.Add(new DtObject(id, category, [x, y + dy, w, h], Math.Round(random.NextDouble(), 2), null));
            }
            for (int f = 0; f < random.Next(0, 3); f++)
                dts.Add(
                    new DtObject(id, random.Next(1, 3), [random.Next(0, 200), 10, 30, 30], random.NextDouble(), null)
                );
        }
        return (gts, dts, ids);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void Resampled_ap50_equals_the_coco_evaluator_on_the_images_and_on_a_resample(int seed)
    {
        var (gts, dts, ids) = RandomDetections(seed);
        int[] categories = [1, 2];
        var resampler = new ResampledAp50(gts, dts, "bbox", ids, categories);
        Assert.Equal(CocoEvaluator.Evaluate(gts, dts, "bbox", ids, categories).AP50, resampler.Ap50(), 12);

        // A resample with repeats equals COCO on a data set in which the drawn images are copies under new ids.
        var random = new Random(seed + 10);
        var draw = Enumerable.Range(0, ids.Length).Select(_ => random.Next(ids.Length)).Order().ToArray();
        var copiedGts = draw.SelectMany(
            (i, n) => gts.Where(g => g.ImageId == ids[i]).Select(g => g with { ImageId = n })
        );
        var copiedDts = draw.SelectMany(
            (i, n) => dts.Where(d => d.ImageId == ids[i]).Select(d => d with { ImageId = n })
        );
        var newIds = Enumerable.Range(0, draw.Length).Select(n => (long)n).ToArray();
        double expected = CocoEvaluator
            .Evaluate(copiedGts.ToList(), copiedDts.ToList(), "bbox", newIds, categories)
            .AP50;
        Assert.Equal(expected, resampler.Ap50(draw), 12);
    }
}
