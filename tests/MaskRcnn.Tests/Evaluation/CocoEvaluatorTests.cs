using MaskRcnn.Data.Coco;
using MaskRcnn.Evaluation;
using TorchSharp;
using static TorchSharp.torch;

namespace MaskRcnn.Tests.Evaluation;

/// <summary>Hand-built ground truth/detection sets whose pycocotools answers are worked out in the comments.</summary>
public class CocoEvaluatorTests
{
    static GtObject Gt(long image, double x, double y, double w, double h, int cat = 1, bool crowd = false) =>
        new(image, cat, [x, y, w, h], Mask(x, y, w, h), w * h, crowd);

    static DtObject Dt(long image, double x, double y, double w, double h, double score, int cat = 1) =>
        new(image, cat, [x, y, w, h], score, Mask(x, y, w, h));

    /// <summary>A box-shaped mask on a 100×100 canvas.</summary>
    static RleMask Mask(double x, double y, double w, double h)
    {
        using var m = zeros(100, 100, dtype: @bool);
        m[(int)y..(int)(y + h), (int)x..(int)(x + w)] = true;
        return Rle.Encode(m);
    }

    static CocoMetrics Eval(
        GtObject[] gt,
        DtObject[] dt,
        string type = "bbox",
        long[]? images = null,
        int[]? cats = null
    ) =>
        CocoEvaluator.Evaluate(
            gt,
            dt,
            type,
            images ?? gt.Select(g => g.ImageId).Concat(dt.Select(d => d.ImageId)).Distinct().ToArray(),
            cats ?? [1]
        );

    [Theory]
    [InlineData("bbox")]
    [InlineData("segm")]
    public void Perfect_detections_score_one(string type)
    {
        var m = Eval(
            [Gt(1, 10, 10, 20, 20), Gt(1, 50, 50, 30, 20)],
            [Dt(1, 10, 10, 20, 20, 0.9), Dt(1, 50, 50, 30, 20, 0.8)],
            type
        );
        Assert.Equal(1.0, m.AP, 12);
        Assert.Equal(1.0, m.AP50, 12);
        Assert.Equal(1.0, m.AR100, 12);
        Assert.Equal(0.5, m.AR1, 12); // at most one detection per image: one of the two objects
    }

    [Fact]
    public void A_higher_scored_false_positive_halves_precision()
    {
        // Sorted: FP (0.95), TP (0.9) → recall [0, 1], precision [0, .5] → monotone [.5, .5] → AP 0.5 at every IoU.
        var m = Eval([Gt(1, 10, 10, 20, 20)], [Dt(1, 10, 10, 20, 20, 0.9), Dt(1, 60, 60, 10, 10, 0.95)]);
        Assert.Equal(0.5, m.AP, 12);
        Assert.Equal(0.5, m.AP50, 12);
    }

    [Fact]
    public void Iou_exactly_at_a_threshold_matches()
    {
        // IoU = 60/100 = 0.6: a true positive at 0.5, 0.55 and 0.6 — 3 of 10 thresholds.
        var m = Eval([Gt(1, 0, 0, 10, 10)], [Dt(1, 0, 0, 10, 6, 0.9)]);
        Assert.Equal(0.3, m.AP, 12);
        Assert.Equal(1.0, m.AP50, 12);
        Assert.Equal(0.0, m.AP75, 12);
    }

    [Fact]
    public void Detections_on_crowd_regions_are_ignored_not_false_positives()
    {
        // A crowd region at (50, 50, 40, 40) absorbs the detection inside it (IoU over the detection's area = 1).
        var m = Eval(
            [Gt(1, 5, 5, 20, 20), Gt(1, 50, 50, 40, 40, crowd: true)],
            [Dt(1, 60, 60, 10, 10, 0.99), Dt(1, 5, 5, 20, 20, 0.5)]
        );
        Assert.Equal(1.0, m.AP, 12);
    }

    [Fact]
    public void False_positives_on_images_without_ground_truth_count()
    {
        // Image 2 has no objects; its detection (0.9) outranks the true positive (0.8) → AP 0.5.
        var m = Eval([Gt(1, 10, 10, 20, 20)], [Dt(1, 10, 10, 20, 20, 0.8), Dt(2, 10, 10, 20, 20, 0.9)], images: [1, 2]);
        Assert.Equal(0.5, m.AP, 12);
    }

    [Fact]
    public void Score_ties_keep_input_order_as_pycocotools_mergesort()
    {
        var tp = Dt(1, 10, 10, 20, 20, 0.5);
        var fp = Dt(1, 60, 60, 10, 10, 0.5);
        Assert.Equal(0.5, Eval([Gt(1, 10, 10, 20, 20)], [fp, tp]).AP, 12); // FP first → precision 0.5 at recall 1
        Assert.Equal(1.0, Eval([Gt(1, 10, 10, 20, 20)], [tp, fp]).AP, 12); // TP first → precision 1 at recall 1
    }

    [Fact]
    public void Missed_objects_lower_recall_and_categories_stay_apart()
    {
        // Category 1: 2 objects, 1 found → AP = 101-point mean of [1 … 1 (r ≤ .5), 0 …] = 51/101.
        // Category 2: a detection of the right box with the wrong class is a false positive there, and finds nothing.
        var gt = new[] { Gt(1, 10, 10, 20, 20), Gt(1, 50, 50, 20, 20), Gt(1, 70, 10, 20, 20, cat: 2) };
        var dt = new[] { Dt(1, 10, 10, 20, 20, 0.9), Dt(1, 50, 50, 20, 20, 0.8, cat: 2) };
        var m = Eval(gt, dt, cats: [1, 2]);
        Assert.Equal(51.0 / 101, m.CategoryAP(0), 12);
        Assert.Equal(0.0, m.CategoryAP(1), 12);
        Assert.Equal((51.0 / 101 + 0) / 2, m.AP, 12);
        Assert.Equal(0.25, m.AR100, 12);
    }

    [Fact]
    public void Area_ranges_split_small_medium_and_large()
    {
        // 20×20 = 400 px is small (< 32²); 50×50 = 2500 medium; nothing large → APl undefined (-1).
        var m = Eval(
            [Gt(1, 0, 0, 20, 20), Gt(1, 40, 40, 50, 50)],
            [Dt(1, 0, 0, 20, 20, 0.9), Dt(1, 40, 40, 50, 50, 0.8)]
        );
        Assert.Equal(1.0, m.APs, 12);
        Assert.Equal(1.0, m.APm, 12);
        Assert.Equal(-1.0, m.APl, 12);
    }

    [Fact]
    public void Rle_iou_and_polygon_rasterisation_follow_maskApi()
    {
        var a = Mask(0, 0, 10, 10);
        var b = Mask(5, 0, 10, 10);
        Assert.Equal(50.0 / 150, RleOps.Iou(a, b, false), 12);
        Assert.Equal(50.0 / 100, RleOps.Iou(a, b, true), 12); // crowd: over the detection's area
        // rleFrPoly covers pixel centres inside the polygon: a square from (0, 0) to (10, 10) → 10×10 pixels.
        var poly = RleOps.FromPolygon([0, 0, 10, 0, 10, 10, 0, 10], 20, 20);
        Assert.Equal(100, poly.Area);
        Assert.Equal(new double[] { 0, 0, 10, 10 }, RleOps.ToBbox(poly));
    }

    [Fact]
    public void Clinical_metrics_count_lesions_false_positives_and_image_classes()
    {
        var gt = new[] { Gt(1, 10, 10, 20, 20, cat: 2), Gt(2, 10, 10, 20, 20, cat: 1) }; // image 3 is normal
        var dt = new[]
        {
            Dt(1, 10, 10, 20, 20, 0.95, cat: 2), // found, malignant
            Dt(2, 60, 60, 10, 10, 0.92, cat: 1), // a false positive; the benign lesion is missed
            Dt(3, 40, 40, 10, 10, 0.5, cat: 1), // below the 0.9 threshold: ignored
        };
        var c = ClinicalMetrics.Compute(gt, dt, [1, 2, 3], ["benign", "malignant"], 0.9);
        Assert.Equal(0.5, c.Sensitivity!.Value, 12);
        Assert.Equal(1.0 / 3, c.FpPerImage!.Value, 12);
        Assert.Equal(1.0, c.Dice!.Value, 12);
        Assert.Equal(1, c.Confusion["malignant"]["malignant"]);
        Assert.Equal(1, c.Confusion["benign"]["benign"]); // image 2: the false positive is "benign" too
        Assert.Equal(1, c.Confusion["normal"]["normal"]);
        Assert.Equal(1.0, c.ImageAccuracy!.Value, 12);
    }
}
