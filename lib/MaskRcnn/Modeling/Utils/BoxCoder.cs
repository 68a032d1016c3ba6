using TorchSharp;
using static TorchSharp.torch;

namespace MaskRcnn.Modeling.Utils;

/// <summary>
/// Encodes boxes as deltas (dx, dy, dw, dh) relative to reference boxes and back (R-CNN parameterisation):
/// dx = wx·(gx − px)/pw, dy = wy·(gy − py)/ph, dw = ww·log(gw/pw), dh = wh·log(gh/ph). Decoding clamps dw,
/// dh at <see cref="BboxXformClip"/> = log(1000/16) so exp() cannot explode.
/// </summary>
public sealed class BoxCoder(double[] weights, double bboxXformClip = BoxCoder.DefaultClip)
{
    public const double DefaultClip = 4.135166556742356; // math.log(1000.0 / 16)
    public double[] Weights { get; } =
        weights.Length == 4 ? weights : throw new ArgumentException("box coder weights must have 4 values");
    public double BboxXformClip { get; } = bboxXformClip;

    /// <summary>Deltas [N, 4] that turn <paramref name="proposals"/> into <paramref name="referenceBoxes"/> (both [N,
    /// 4]).</summary>
    public Tensor Encode(Tensor referenceBoxes, Tensor proposals)
    {
        using var scope = NewDisposeScope();
        var w = tensor(
            Weights.Select(v => (float)v).ToArray(),
            dtype: referenceBoxes.dtype,
            device: referenceBoxes.device
        );
        var (px1, py1, px2, py2) = Columns(proposals);
        var (gx1, gy1, gx2, gy2) = Columns(referenceBoxes);
        var exW = px2 - px1;
        var exH = py2 - py1;
        var exCx = px1 + 0.5f * exW;
        var exCy = py1 + 0.5f * exH;
        var gtW = gx2 - gx1;
        var gtH = gy2 - gy1;
        var gtCx = gx1 + 0.5f * gtW;
        var gtCy = gy1 + 0.5f * gtH;
        var dx = w[0] * (gtCx - exCx) / exW;
        var dy = w[1] * (gtCy - exCy) / exH;
        var dw = w[2] * (gtW / exW).log();
        var dh = w[3] * (gtH / exH).log();
        return cat([dx, dy, dw, dh], 1).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Applies deltas [N, 4·K] (K boxes per reference, e.g. one per class) to reference boxes [N, 4];
    /// returns [N, K, 4].
    /// </summary>
    public Tensor Decode(Tensor relCodes, Tensor boxes)
    {
        long n = boxes.shape[0];
        using var scope = NewDisposeScope();
        var pred = DecodeSingle(n > 0 ? relCodes.reshape(n, -1) : relCodes, boxes);
        return (n > 0 ? pred.reshape(n, -1, 4) : pred).MoveToOuterDisposeScope();
    }

    /// <summary>Deltas [N, 4·K] on boxes [N, 4] → boxes [N, 4·K].</summary>
    public Tensor DecodeSingle(Tensor relCodes, Tensor boxes)
    {
        using var scope = NewDisposeScope();
        boxes = boxes.to(relCodes.dtype);
        var widths = boxes[.., 2] - boxes[.., 0];
        var heights = boxes[.., 3] - boxes[.., 1];
        var ctrX = boxes[.., 0] + 0.5f * widths;
        var ctrY = boxes[.., 1] + 0.5f * heights;
        var dx = relCodes[.., TensorIndex.Slice(0, null, 4)] / Weights[0];
        var dy = relCodes[.., TensorIndex.Slice(1, null, 4)] / Weights[1];
        var dw = (relCodes[.., TensorIndex.Slice(2, null, 4)] / Weights[2]).clamp_max(BboxXformClip);
        var dh = (relCodes[.., TensorIndex.Slice(3, null, 4)] / Weights[3]).clamp_max(BboxXformClip);
        var predCtrX = dx * widths.unsqueeze(1) + ctrX.unsqueeze(1);
        var predCtrY = dy * heights.unsqueeze(1) + ctrY.unsqueeze(1);
        var predW = dw.exp() * widths.unsqueeze(1);
        var predH = dh.exp() * heights.unsqueeze(1);
        var halfW = 0.5f * predW;
        var halfH = 0.5f * predH;
        return stack([predCtrX - halfW, predCtrY - halfH, predCtrX + halfW, predCtrY + halfH], 2)
            .flatten(1)
            .MoveToOuterDisposeScope();
    }

    static (Tensor, Tensor, Tensor, Tensor) Columns(Tensor b) => (b[.., 0..1], b[.., 1..2], b[.., 2..3], b[.., 3..4]);
}
