using System.Text.Json;
using System.Text.Json.Serialization;
using MaskRcnn.Data;
using MaskRcnn.Data.Coco;
using MaskRcnn.Modeling;
using TorchSharp;
using static TorchSharp.torch;

namespace MaskRcnn.Evaluation;

/// <summary>
/// COCO numbers in the evaluate contract's shape. A value pycocotools cannot compute (no ground truth of that kind:
/// its −1) stays −1 here, as in pycocotools, and is written to JSON as null and printed as "undefined"
/// (<see cref="Undefined"/>).
/// </summary>
public sealed record CocoSummary(
    [property: JsonConverter(typeof(UndefinedAsNull))] double AP,
    [property: JsonConverter(typeof(UndefinedAsNull))] double AP50,
    [property: JsonConverter(typeof(UndefinedAsNull))] double AP75,
    [property: JsonConverter(typeof(UndefinedAsNull))] double APs,
    [property: JsonConverter(typeof(UndefinedAsNull))] double APm,
    [property: JsonConverter(typeof(UndefinedAsNull))] double APl,
    [property: JsonConverter(typeof(UndefinedAsNull))] double AR100
)
{
    public static CocoSummary From(CocoMetrics m) => new(m.AP, m.AP50, m.AP75, m.APs, m.APm, m.APl, m.AR100);
}

/// <summary>One class's AP; −1 (JSON null) where undefined: no ground truth of the class, or no masks.</summary>
public sealed record ClassSummary(
    [property: JsonPropertyName("bbox_AP50"), JsonConverter(typeof(UndefinedAsNull))] double BboxAP50,
    [property: JsonPropertyName("segm_AP50"), JsonConverter(typeof(UndefinedAsNull))] double SegmAP50,
    [property: JsonPropertyName("bbox_AP"), JsonConverter(typeof(UndefinedAsNull))] double BboxAP,
    [property: JsonPropertyName("segm_AP"), JsonConverter(typeof(UndefinedAsNull))] double SegmAP
);

/// <summary>
/// A COCO value that pycocotools marks undefined with −1 (or NaN) is written as JSON null; a null read back is −1.
/// </summary>
public sealed class UndefinedAsNull : JsonConverter<double>
{
    public override double Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
        reader.TokenType == JsonTokenType.Null ? -1 : reader.GetDouble();

    public override void Write(Utf8JsonWriter writer, double value, JsonSerializerOptions options)
    {
        if (Undefined.IsUndefined(value))
            writer.WriteNullValue();
        else
            writer.WriteNumberValue(value);
    }

    public override bool HandleNull => true;
}

/// <summary>How undefined metrics are told and printed.</summary>
public static class Undefined
{
    /// <summary>True for pycocotools' −1 and for NaN.</summary>
    public static bool IsUndefined(double value) => !(value >= 0) || double.IsInfinity(value);

    /// <summary>The value with <paramref name="format"/> ("F3"), or "undefined" (null, −1, NaN).</summary>
    public static string Format(double? value, string format = "F3") =>
        value is double v && !IsUndefined(v)
            ? v.ToString(format, System.Globalization.CultureInfo.InvariantCulture)
            : "undefined";
}

/// <summary>
/// What <c>maskrcnn evaluate</c> writes. The clinical metrics are null where they could not be measured (see
/// <see cref="ClinicalMetrics"/>); <see cref="Evaluated"/> says whether anything was.
/// </summary>
public sealed record EvaluationReport(
    [property: JsonPropertyName("bbox")] CocoSummary Bbox,
    [property: JsonPropertyName("segm")] CocoSummary? Segm,
    [property: JsonPropertyName("per_class")] SortedDictionary<string, ClassSummary> PerClass,
    [property: JsonPropertyName("dice")] double? Dice,
    [property: JsonPropertyName("sensitivity")] double? Sensitivity,
    [property: JsonPropertyName("fp_per_image")] double? FpPerImage,
    [property: JsonPropertyName("image_classification_accuracy")] double? ImageClassificationAccuracy,
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

    /// <summary>
    /// What could not be scored when the ground truth and results came from COCO files: annotations and results
    /// left out (unknown image or category, a short bbox, a mask of another size, an image of width 0), each with
    /// its reason. Null for a data folder (see <see cref="Data"/>).
    /// </summary>
    [JsonPropertyName("inputs"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public ScoringReport? Inputs { get; init; }

    /// <summary>
    /// False when nothing could be evaluated: no image, or no lesion (no usable ground truth: every region left out,
    /// for example because the model's classes are not the data's). The metrics are then undefined and
    /// <c>maskrcnn evaluate</c> exits non-zero.
    /// </summary>
    [JsonPropertyName("evaluated")]
    public bool Evaluated => Images > 0 && Lesions > 0;
}

/// <summary>
/// The inputs of an evaluation from COCO files: ground-truth annotations and results listed and scored, and why each
/// of the others was left out.
/// </summary>
public sealed record ScoringReport(
    [property: JsonPropertyName("annotations_listed")] int AnnotationsListed,
    [property: JsonPropertyName("annotations_scored")] int AnnotationsScored,
    [property: JsonPropertyName("results_listed")] int ResultsListed,
    [property: JsonPropertyName("results_scored")] int ResultsScored,
    [property: JsonPropertyName("problems")] IReadOnlyList<ProblemEntry> Problems
)
{
    /// <summary>One line: what was scored and left out.</summary>
    public string Describe() =>
        $"{AnnotationsScored} of {AnnotationsListed} ground-truth annotations and {ResultsScored} of {ResultsListed} "
        + "results scored"
        + (Problems.Count > 0 ? $"; {Problems.Count} problem{(Problems.Count == 1 ? "" : "s")}" : "");
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

    /// <summary>Runs the model on every image (one at a time, each in its own DisposeScope); <paramref name="cancel"/>
    /// stops between images (an <see cref="OperationCanceledException"/>).</summary>
    public static List<DtObject> Detect(
        MaskRCNN model,
        Dataset dataset,
        Action<int, int>? progress = null,
        CancellationToken cancel = default
    )
    {
        var dts = new List<DtObject>();
        for (int i = 0; i < dataset.Count; i++)
        {
            cancel.ThrowIfCancellationRequested();
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

    /// <summary>
    /// COCO bbox (and segm, when every object has a mask) metrics, per-class AP and clinical metrics. When no lesion
    /// could be evaluated (<see cref="EvaluationReport.Evaluated"/> false) every clinical metric of the report is
    /// undefined (null); <see cref="EvaluationReport.Clinical"/> keeps what was counted.
    /// </summary>
    /// <param name="incompleteImages">images whose ground truth is incomplete (see <see cref="ClinicalMetrics"/>)</param>
    public static EvaluationReport Report(
        IReadOnlyList<GtObject> gts,
        IReadOnlyList<DtObject> dts,
        IReadOnlyList<long> imageIds,
        IReadOnlyList<string> classNames,
        double clinicalThreshold,
        IReadOnlySet<long>? incompleteImages = null
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
        var clinical = ClinicalMetrics.Compute(gts, dts, imageIds, classNames, clinicalThreshold, incompleteImages);
        bool evaluated = clinical.Images > 0 && clinical.Lesions > 0;
        return new EvaluationReport(
            CocoSummary.From(bbox),
            segm is null ? null : CocoSummary.From(segm),
            perClass,
            evaluated ? clinical.Dice : null,
            evaluated ? clinical.Sensitivity : null,
            evaluated ? clinical.FpPerImage : null,
            evaluated ? clinical.ImageAccuracy : null,
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
        Action<int, int>? progress = null,
        CancellationToken cancel = default
    )
    {
        var gts = GroundTruth(dataset);
        var dts = Detect(model, dataset, progress, cancel);
        var ids = Enumerable.Range(1, dataset.Count).Select(i => (long)i).ToList();
        var incomplete = Enumerable
            .Range(0, dataset.Count)
            .Where(i => dataset.Images[i].HasSkippedRegions)
            .Select(i => (long)i + 1)
            .ToHashSet();
        return Report(gts, dts, ids, dataset.Classes, clinicalThreshold, incomplete) with { Data = dataset.Report() };
    }
}
