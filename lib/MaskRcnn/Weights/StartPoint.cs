using MaskRcnn.Modeling;
using TorchSharp;
using static TorchSharp.torch;

namespace MaskRcnn.Weights;

/// <summary>What loading pretrained weights into a model did.</summary>
/// <param name="Reinitialized">class-specific keys left as initialised because the class count differs</param>
public sealed record PretrainedReport(
    string Source,
    int Loaded,
    IReadOnlyList<string> Reinitialized,
    IReadOnlyList<string> Renamed
)
{
    public override string ToString() =>
        $"weights: {Loaded} tensors from {Source}"
        + (
            Reinitialized.Count == 0
                ? ""
                : $"; re-initialised for the new class count: {string.Join(", ", Reinitialized)}"
        );
}

/// <summary>Training start points: none, the COCO weights, the ImageNet backbone, or a file (torchvision state dict or
/// our checkpoint).</summary>
public static class StartPoint
{
    /// <summary>
    /// The layers whose shape depends on the number of classes — matterport's exclude list
    /// (mrcnn_class_logits, mrcnn_bbox_fc, mrcnn_bbox, mrcnn_mask) in torchvision's names.
    /// </summary>
    public static readonly string[] ClassSpecificPrefixes =
    [
        "roi_heads.box_predictor.cls_score.",
        "roi_heads.box_predictor.bbox_pred.",
        "roi_heads.mask_predictor.mask_fcn_logits.",
    ];

    /// <summary>
    /// "none", "coco" (torchvision's COCO Mask R-CNN, downloaded once), "imagenet" (ML.NET's ImageNet ResNet-18 from
    /// its NuGet package: the backbone only), an .onnx file of that network, or a weights file.
    /// </summary>
    public static string Apply(MaskRCNN model, string spec, Action<long, long?>? downloadProgress = null) =>
        spec switch
        {
            "none" => "weights: none (training from scratch)",
            "coco" => LoadPretrained(model, CocoWeights.Ensure(downloadProgress)).ToString(),
            "imagenet" => ImageNetWeights.LoadInto(model).ToString(),
            _ when spec.EndsWith(".onnx", StringComparison.OrdinalIgnoreCase) => ImageNetWeights
                .LoadInto(model, spec)
                .ToString(),
            _ => LoadPretrained(model, spec).ToString(),
        };

    /// <summary>
    /// Loads every tensor that fits; class-specific layers with a different class count are skipped and stay
    /// freshly initialised (reported). Any other missing or mis-shaped key is an error listing the keys.
    /// </summary>
    public static PretrainedReport LoadPretrained(MaskRCNN model, string path)
    {
        Dictionary<string, Tensor> source;
        if (Checkpoint.IsCheckpoint(path))
        {
            var c = Checkpoint.Read(path);
            source = c.Model;
            foreach (var t in c.Optimizer.Values)
                t.Dispose();
            c.RngState?.Dispose();
        }
        else
            source = StateDicts.Read(path);
        try
        {
            var target = model.state_dict();
            bool Skip(string key) =>
                ClassSpecificPrefixes.Any(key.StartsWith)
                && target.TryGetValue(key, out var t)
                && source.TryGetValue(key, out var s)
                && !t.shape.SequenceEqual(s.shape);
            // Keys are migrated inside Load; the skip test sees current names, which class-specific keys always have.
            var report = StateDicts.Load(model, source, strict: true, skip: Skip, sourceName: path);
            return new PretrainedReport(
                Path.GetFileName(path),
                report.Loaded.Count,
                report.Skipped.Order(StringComparer.Ordinal).ToList(),
                report.Renamed.Select(r => $"{r.Old} → {r.New}").ToList()
            );
        }
        finally
        {
            foreach (var t in source.Values)
                t.Dispose();
        }
    }
}
