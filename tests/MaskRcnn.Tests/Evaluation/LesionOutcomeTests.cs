using MaskRcnn.Data.Coco;
using MaskRcnn.Evaluation;
using static TorchSharp.torch;

namespace MaskRcnn.Tests.Evaluation;

public class LesionOutcomeTests
{
    static GtObject Gt(long image, double x, double y, double w, double h, int cat) =>
        new(image, cat, [x, y, w, h], Mask(x, y, w, h), w * h);

    static DtObject Dt(long image, double x, double y, double w, double h, double score, int cat) =>
        new(image, cat, [x, y, w, h], score, Mask(x, y, w, h));

    static RleMask Mask(double x, double y, double w, double h)
    {
        using var m = zeros(100, 100, dtype: @bool);
        m[(int)y..(int)(y + h), (int)x..(int)(x + w)] = true;
        return Rle.Encode(m);
    }

    [Fact]
    public void Each_lesion_is_found_scored_below_or_not_outlined_as_the_clinical_metrics_count_it()
    {
        var gts = new[]
        {
            Gt(1, 10, 10, 20, 20, 1), // found at 0.95 as benign (its class)
            Gt(1, 60, 60, 20, 20, 2), // found at 0.92 as benign (the wrong class); a malignant box at 0.5 too
            Gt(2, 10, 10, 20, 20, 2), // outlined at 0.7 only: below the threshold
            Gt(2, 60, 10, 10, 10, 1), // nothing overlaps it at IoU ≥ 0.5 (a box at IoU 0.25)
        };
        var dts = new[]
        {
            Dt(1, 10, 10, 20, 20, 0.95, 1),
            Dt(1, 61, 61, 20, 20, 0.92, 1),
            Dt(1, 60, 60, 20, 20, 0.5, 2),
            Dt(2, 10, 10, 20, 20, 0.7, 2),
            Dt(2, 60, 10, 5, 5, 0.99, 1), // a false positive at the threshold
        };
        var outcomes = LesionOutcome.Compute(gts, dts, 0.9);
        Assert.Equal([0, 1, 2, 3], outcomes.Select(o => o.GtIndex));
        Assert.Equal([true, true, false, false], outcomes.Select(o => o.Found));
        Assert.Equal([true, false, false, false], outcomes.Select(o => o.FoundAsItsClass));
        Assert.Equal(1, outcomes[1].FoundClassId);
        Assert.Equal(0.92, outcomes[1].BestScore);
        Assert.Equal(0.7, outcomes[2].BestScore);
        Assert.Equal(2, outcomes[2].BestClassId);
        Assert.Equal(0, outcomes[3].BestScore);
        Assert.Null(outcomes[3].BestClassId);
        Assert.Equal(100, outcomes[3].Area);

        var clinical = ClinicalMetrics.Compute(gts, dts, [1, 2], ["benign", "malignant"], 0.9);
        Assert.Equal(clinical.Detected, outcomes.Count(o => o.Found));
        Assert.Equal(clinical.Lesions, outcomes.Count);
    }
}
