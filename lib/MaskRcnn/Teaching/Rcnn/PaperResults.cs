using MaskRcnn.Visualization;

namespace MaskRcnn.Teaching;

/// <summary>
/// What the papers themselves reported, with the table or section each number comes from: PASCAL VOC 2007 test mAP
/// (IoU 0.5, 20 classes) and seconds per image for R-CNN → Faster R-CNN, COCO test-dev AP for FPN and Mask R-CNN
/// (which report no VOC numbers). Their data, networks and GPUs are not ours: these rows put the history's
/// proportions beside the ones measured here, not its values.
/// </summary>
public static class PaperResults
{
    /// <summary>One reported result.</summary>
    public sealed record Row(
        [property: Column("method")] string Method,
        [property: Column("network")] string Network,
        [property: Column("accuracy")] string Accuracy,
        [property: Column("seconds / image")] string Seconds,
        [property: Column("where reported")] string Source
    );

    /// <summary>The rows, in the order of the history.</summary>
    public static IReadOnlyList<Row> All { get; } =
    [
        new(
            "R-CNN",
            "AlexNet",
            "58.5 VOC07 mAP",
            "13 (GPU), 53 (CPU), proposals included",
            "R-CNN, Table 2 (FT fc7 BB); §2.2"
        ),
        new("R-CNN", "VGG16", "66.0 VOC07 mAP", "47.0 (K40 GPU), proposals excluded", "Fast R-CNN, Table 4"),
        new("SPPnet", "VGG16", "63.1 VOC07 mAP", "2.3 (K40 GPU), proposals excluded", "Fast R-CNN, Table 4"),
        new("Fast R-CNN", "VGG16", "66.9 VOC07 mAP", "0.32 (K40 GPU), proposals excluded", "Fast R-CNN, Table 4"),
        new(
            "selective search + Fast R-CNN",
            "VGG16",
            "66.9 VOC07 mAP",
            "1.83, of which 1.51 selective search (CPU)",
            "Faster R-CNN, Tables 3 and 5"
        ),
        new(
            "Faster R-CNN (RPN + Fast R-CNN)",
            "VGG16",
            "69.9 VOC07 mAP",
            "0.198 (K40 GPU), proposals included",
            "Faster R-CNN, Tables 3 and 5"
        ),
        new(
            "Faster R-CNN + FPN",
            "ResNet-101",
            "36.2 COCO box AP (59.1 AP50)",
            "as reported in §5: ~0.17 (one M40 GPU)",
            "FPN, Table 4; §5"
        ),
        new(
            "Mask R-CNN",
            "ResNet-101-FPN",
            "35.7 COCO mask AP, 38.2 box AP",
            "0.195 (M40 GPU) + 15 ms on the CPU",
            "Mask R-CNN, Tables 1 and 3; §4 (timing)"
        ),
    ];

    /// <summary>The rows as a table.</summary>
    public static Table Table() =>
        Visualization.Table.From(All, "reported in the papers (VOC07: trained on VOC 2007 trainval)");
}
