using MaskRcnn.Data.Coco;
using MaskRcnn.Modeling;
using TorchSharp;
using static TorchSharp.torch;

namespace MaskRcnn.Evaluation;

/// <summary>Detections → COCO detection results (boxes as [x, y, w, h], masks as compressed RLE).</summary>
public static class CocoExport
{
    /// <param name="detections">one image's detections (original pixels)</param>
    /// <param name="imageId">COCO image_id: a file name (string) or a number</param>
    public static IEnumerable<CocoDetectionResult> ToResults(
        Detections detections,
        System.Text.Json.JsonElement imageId
    )
    {
        var (boxes, labels, scores) = detections.ToArrays();
        for (int i = 0; i < boxes.Length; i++)
        {
            var b = boxes[i];
            CocoRle? segmentation = null;
            if (detections.Masks is not null)
            {
                using var mask = detections.Masks[i];
                segmentation = CocoRle.From(Rle.Encode(mask));
            }
            yield return new CocoDetectionResult(
                imageId,
                (int)labels[i],
                [Math.Round(b[0], 3), Math.Round(b[1], 3), Math.Round(b[2] - b[0], 3), Math.Round(b[3] - b[1], 3)],
                Math.Round(scores[i], 6),
                segmentation
            );
        }
    }
}
