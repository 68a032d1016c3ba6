using System.Text.Json.Serialization;
using MaskRcnn.Data;
using MaskRcnn.Data.Coco;
using MaskRcnn.Modeling;
using TorchSharp;
using static TorchSharp.torch;

namespace MaskRcnn.Evaluation;

/// <summary>COCO numbers in the evaluate contract's shape.</summary>
public sealed record CocoSummary(double AP, double AP50, double AP75, double APs, double APm, double APl, double AR100)
{
    public static CocoSummary From(CocoMetrics m) => new(m.AP, m.AP50, m.AP75, m.APs, m.APm, m.APl, m.AR100);
}

public sealed record ClassSummary(
    [property: JsonPropertyName("bbox_AP50")] double BboxAP50,
    [property: JsonPropertyName("segm_AP50")] double SegmAP50,
    [property: JsonPropertyName("bbox_AP")] double BboxAP,
    [property: JsonPropertyName("segm_AP")] double SegmAP
);

/// <summary>What <c>maskrcnn evaluate</c> writes.</summary>
public sealed record EvaluationReport(
    [property: JsonPropertyName("bbox")] CocoSummary Bbox,
    [property: JsonPropertyName("segm")] CocoSummary? Segm,
    [property: JsonPropertyName("per_class")] SortedDictionary<string, ClassSummary> PerClass,
    [property: JsonPropertyName("dice")] double Dice,
    [property: JsonPropertyName("sensitivity")] double Sensitivity,
    [property: JsonPropertyName("fp_per_image")] double FpPerImage,
    [property: JsonPropertyName("image_classification_accuracy")] double ImageClassificationAccuracy,
    [property: JsonPropertyName("confusion")] SortedDictionary<string, SortedDictionary<string, int>> Confusion,
    [property: JsonPropertyName("score_threshold")] double ScoreThreshold,
    [property: JsonPropertyName("images")] int Images,
    [property: JsonPropertyName("lesions")] int Lesions
)
{
    /// <summary>The split's images and regions used and left out, with every data problem (on a data folder).</summary>
    [JsonPropertyName("data"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public DataReport? Data { get; init; }

    [JsonIgnore]
    public CocoMetrics? BboxMetrics { get; init; }

    [JsonIgnore]
    public CocoMetrics? SegmMetrics { get; init; }

    [JsonIgnore]
    public ClinicalMetrics? Clinical { get; init; }
}

/// <summary>Ground truth from datasets, detections from a model, and the full report.</summary>
public static class DatasetEvaluation
{
    /// <summary>Ground-truth objects of a dataset (image id = index + 1; area = mask pixels, as COCO's).</summary>
    public static List<GtObject> GroundTruth(Dataset dataset)
    {
        var gts = new List<GtObject>();
        for (int i = 0; i < dataset.Count; i++)
        {
            var img = dataset.Images[i];
            foreach (var inst in img.Instances)
            {
                var mask = inst.Mask ?? EncodeMask(inst.Rasterize(img.Width, img.Height), img.Width, img.Height);
                gts.Add(new GtObject(i + 1, inst.ClassId, RleOps.ToBbox(mask), mask, mask.Area));
            }
        }
        return gts;
    }

    static RleMask EncodeMask(byte[] m, int w, int h)
    {
        using var t = tensor(m, new long[] { h, w });
        return Rle.Encode(t);
    }

    /// <summary>Runs the model on every image (one at a time, each in its own DisposeScope).</summary>
    public static List<DtObject> Detect(MaskRCNN model, Dataset dataset, Action<int, int>? progress = null)
    {
        var dts = new List<DtObject>();
        for (int i = 0; i < dataset.Count; i++)
        {
            using var scope = NewDisposeScope();
            var image = ImageIO.ReadTensor(dataset.Images[i].Path);
            using var d = model.Predict(image);
            dts.AddRange(ToObjects(d, i + 1));
            progress?.Invoke(i + 1, dataset.Count);
        }
        return dts;
    }

    /// <summary>One image's detections as evaluation objects (boxes as x, y, w, h).</summary>
    public static IEnumerable<DtObject> ToObjects(Detections d, long imageId)
    {
        var (boxes, labels, scores) = d.ToArrays();
        for (int k = 0; k < boxes.Length; k++)
        {
            RleMask? mask = null;
            if (d.Masks is not null)
            {
                using var m = d.Masks[k];
                mask = Rle.Encode(m);
            }
            var b = boxes[k];
            yield return new DtObject(imageId, (int)labels[k], [b[0], b[1], b[2] - b[0], b[3] - b[1]], scores[k], mask);
        }
    }

    /// <summary>COCO bbox (and segm, when every object has a mask) metrics, per-class AP and clinical
    /// metrics.</summary>
    public static EvaluationReport Report(
        IReadOnlyList<GtObject> gts,
        IReadOnlyList<DtObject> dts,
        IReadOnlyList<long> imageIds,
        IReadOnlyList<string> classNames,
        double clinicalThreshold
    )
    {
        var cats = Enumerable.Range(1, classNames.Count).ToArray();
        var bbox = CocoEvaluator.Evaluate(gts, dts, "bbox", imageIds, cats);
        bool masks = gts.All(g => g.Mask is not null) && dts.All(d => d.Mask is not null);
        var segm = masks ? CocoEvaluator.Evaluate(gts, dts, "segm", imageIds, cats) : null;
        var perClass = new SortedDictionary<string, ClassSummary>(StringComparer.Ordinal);
        for (int k = 0; k < cats.Length; k++)
            perClass[classNames[k]] = new ClassSummary(
                bbox.CategoryAP(k, 0.5),
                segm?.CategoryAP(k, 0.5) ?? -1,
                bbox.CategoryAP(k),
                segm?.CategoryAP(k) ?? -1
            );
        var clinical = ClinicalMetrics.Compute(gts, dts, imageIds, classNames, clinicalThreshold);
        return new EvaluationReport(
            CocoSummary.From(bbox),
            segm is null ? null : CocoSummary.From(segm),
            perClass,
            clinical.Dice,
            clinical.Sensitivity,
            clinical.FpPerImage,
            clinical.ImageAccuracy,
            clinical.Confusion,
            clinicalThreshold,
            clinical.Images,
            clinical.Lesions
        )
        {
            BboxMetrics = bbox,
            SegmMetrics = segm,
            Clinical = clinical,
        };
    }

    /// <summary>Model on a dataset, end to end.</summary>
    public static EvaluationReport Evaluate(
        MaskRCNN model,
        Dataset dataset,
        double clinicalThreshold,
        Action<int, int>? progress = null
    )
    {
        var gts = GroundTruth(dataset);
        var dts = Detect(model, dataset, progress);
        var ids = Enumerable.Range(1, dataset.Count).Select(i => (long)i).ToList();
        return Report(gts, dts, ids, dataset.Classes, clinicalThreshold) with { Data = dataset.Report() };
    }
}
