using TorchSharp;
using static TorchSharp.torch;

namespace MaskRcnn.Modeling;

/// <summary>
/// Final detections for one image, in the original image's pixels (what Predict returns).
/// Dispose it (or let it be collected) to release the tensors.
/// </summary>
/// <param name="Boxes">[D, 4] float (x1, y1, x2, y2)</param>
/// <param name="Labels">[D] int64 class index (1 … num_classes − 1)</param>
/// <param name="Scores">[D] float, descending</param>
/// <param name="MaskProbs">[D, 1, H, W] float mask probabilities pasted into the image (null for box-only
/// models)</param>
/// <param name="Masks">[D, H, W] bool, MaskProbs &gt; mask threshold (0.5)</param>
/// <param name="ImageSize">(H, W) of the original image</param>
public sealed record Detections(
    Tensor Boxes,
    Tensor Labels,
    Tensor Scores,
    Tensor? MaskProbs,
    Tensor? Masks,
    (long H, long W) ImageSize
) : IOwnsTensors, IDisposable
{
    public int Count => (int)Boxes.shape[0];

    public IEnumerable<Tensor> OwnedTensors => TensorRecords.Present(Boxes, Labels, Scores, MaskProbs, Masks);

    public void Dispose() => this.DisposeTensors();

    /// <summary>Host copies: boxes as [D][4], labels, scores.</summary>
    public (float[][] Boxes, long[] Labels, float[] Scores) ToArrays()
    {
        var b = Boxes.ToFloatArray();
        return (
            Enumerable.Range(0, Count).Select(i => b[(i * 4)..(i * 4 + 4)]).ToArray(),
            Labels.ToLongArray(),
            Scores.ToFloatArray()
        );
    }
}
