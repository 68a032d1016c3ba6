using TorchSharp;
using static TorchSharp.torch;

namespace MaskRcnn.Modeling.Ops;

/// <summary>
/// RoIAlign (He et al., Mask R-CNN) with the semantics of torchvision.ops.roi_align: each output bin averages
/// a grid of bilinearly interpolated samples; <c>aligned</c> shifts box coordinates by −0.5 px (pixel
/// centres), and a sampling ratio ≤ 0 means ⌈bin size⌉ samples per bin, chosen per RoI ("adaptive").
/// Implemented as tensor operations (no per-box loops): the sample positions are separable (rows × columns);
/// many-channel features go through a sparse bilinear-weight matrix, few-channel ones through gathers.
/// Both are differentiable with respect to the features and agree with the kernel to float rounding.
/// </summary>
public static class RoIAlign
{
    /// <summary>Elements gathered per chunk of RoIs (bounds the temporary memory to ~4 × this × 4 bytes).</summary>
    const long ChunkElements = 1L << 23;

    /// <summary>From this many channels on, the sparse-matrix formulation is faster than the gathers.</summary>
    public const long SparseFromChannels = 16;

    /// <param name="input">features [B, C, H, W]</param>
    /// <param name="rois">[K, 5]: batch index, x1, y1, x2, y2 in input-image pixels</param>
    /// <param name="outputSize">(height, width) of the pooled output</param>
    /// <param name="spatialScale">feature size / image size (1/stride)</param>
    /// <param name="samplingRatio">samples per bin along each axis; ≤ 0: adaptive</param>
    /// <param name="aligned">true: pixel-centre convention (−0.5 shift), false: torchvision's legacy default</param>
    /// <returns>[K, C, outH, outW]</returns>
    public static Tensor Apply(
        Tensor input,
        Tensor rois,
        (int H, int W) outputSize,
        double spatialScale,
        int samplingRatio = -1,
        bool aligned = false
    ) =>
        input.shape[1] >= SparseFromChannels
            ? ApplySparse(input, rois, outputSize, spatialScale, samplingRatio, aligned)
            : ApplyGather(input, rois, outputSize, spatialScale, samplingRatio, aligned);

    /// <summary>
    /// RoIAlign by gathering the four bilinear neighbours of every sample from the features viewed as rows of C
    /// values, one per feature cell [B·H·W, C], and averaging bins with a reshape. Best for few channels (e.g. the
    /// 1-channel mask targets).
    /// </summary>
    public static Tensor ApplyGather(
        Tensor input,
        Tensor rois,
        (int H, int W) outputSize,
        double spatialScale,
        int samplingRatio = -1,
        bool aligned = false
    )
    {
        long k = rois.shape[0],
            c = input.shape[1];
        if (k == 0)
            return EmptyOutput(input, c, outputSize);
        using var scope = NewDisposeScope();
        var (rows, cols, count, batch) = Samples(
            input.dtype,
            input.shape,
            rois,
            outputSize,
            spatialScale,
            samplingRatio,
            aligned
        );

        long h = input.shape[2],
            w = input.shape[3];
        var flat = input.permute(0, 2, 3, 1).reshape(-1, c); // one row of C values per (image, y, x)
        long samples = rows.Low.shape[1] * cols.Low.shape[1];
        long chunk = Math.Max(1, ChunkElements / Math.Max(1, samples * c));

        var pieces = new List<Tensor>();
        for (long start = 0; start < k; start += chunk)
        {
            long end = Math.Min(k, start + chunk);
            pieces.Add(
                PoolChunk(
                    flat,
                    batch.Rows(start, end),
                    rows.Slice(start, end),
                    cols.Slice(start, end),
                    count.Rows(start, end),
                    h,
                    w,
                    c,
                    outputSize
                )
            );
        }
        var output = pieces.Count == 1 ? pieces[0] : cat(pieces, 0);
        return output.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// RoIAlign as a sparse × dense matrix product: row (RoI, bin) of a sparse matrix holds the bilinear weights
    /// (÷ sample count) of every feature cell its samples touch, so output = S · F with F the features as rows of C
    /// values [B·H·W, C]. No per-corner [K, samples, C] temporaries, hence far less memory traffic when C is
    /// large. The output [K, C, S, S] is a view of the product's rows [K, S, S, C]. libtorch's sparse × dense
    /// product runs on one thread, so without gradients the RoIs are split into one block per libtorch thread and the
    /// blocks are pooled concurrently (inference mode carried over to the workers). With gradients the product runs
    /// on the calling thread: autograd orders the summing of a feature map's gradients by when and where their nodes
    /// were made, so nodes made on pool threads summed them in an order that changed from run to run (a stopped and
    /// resumed training then differed from an uninterrupted one in the last digits, more often on a loaded machine).
    /// </summary>
    public static Tensor ApplySparse(
        Tensor input,
        Tensor rois,
        (int H, int W) outputSize,
        double spatialScale,
        int samplingRatio = -1,
        bool aligned = false
    )
    {
        long k = rois.shape[0],
            c = input.shape[1];
        if (k == 0)
            return EmptyOutput(input, c, outputSize);
        int blocks = (int)Math.Clamp(k / MinRoisPerBlock, 1, get_num_threads());
        using var flat = input.permute(0, 2, 3, 1).reshape(-1, c); // [B·H·W, C]; a view when C varies fastest
        if (blocks == 1 || is_grad_enabled())
            return SparseBlock(input.shape, flat, rois, outputSize, spatialScale, samplingRatio, aligned);

        bool inference = is_inference_mode_enabled();
        long per = (k + blocks - 1) / blocks;
        var tasks = Enumerable
            .Range(0, blocks)
            .Select(b =>
                Task.Run(() =>
                {
                    using var gradMode = set_grad_enabled(false);
                    using var inferenceMode = inference_mode(inference);
                    using var block = rois.Rows(b * per, Math.Min(k, (b + 1) * per));
                    return SparseBlock(input.shape, flat, block, outputSize, spatialScale, samplingRatio, aligned);
                })
            )
            .ToArray();
        try
        {
            Task.WaitAll(tasks);
            return cat(tasks.Select(t => t.Result).ToArray(), 0);
        }
        catch (AggregateException e) when (e.InnerException is not null)
        {
            throw e.InnerException;
        }
        finally
        {
            foreach (var t in tasks)
                if (t.IsCompletedSuccessfully)
                    t.Result.Dispose(); // worker tensors belong to no DisposeScope
        }
    }

    /// <summary>Fewer RoIs than this per block are not worth a thread.</summary>
    const long MinRoisPerBlock = 64;

    /// <param name="shape">the features' [B, C, H, W]</param>
    /// <param name="flat">the features as rows of C values, [B·H·W, C]</param>
    static Tensor SparseBlock(
        long[] shape,
        Tensor flat,
        Tensor rois,
        (int H, int W) outputSize,
        double spatialScale,
        int samplingRatio,
        bool aligned
    )
    {
        long k = rois.shape[0],
            c = shape[1],
            h = shape[2],
            w = shape[3];
        using var scope = NewDisposeScope();
        var (rows, cols, count, batch) = Samples(
            flat.dtype,
            shape,
            rois,
            outputSize,
            spatialScale,
            samplingRatio,
            aligned
        );
        long sy = rows.Low.shape[1],
            sx = cols.Low.shape[1];
        long gy = sy / outputSize.H,
            gx = sx / outputSize.W;
        var device = flat.device;

        // One entry per (RoI, sample row, sample column, corner); corners (y0,x0) (y0,x1) (y1,x0) (y1,x1).
        var yIdx = stack([rows.Low, rows.Low, rows.High, rows.High], -1).view(k, sy, 1, 4);
        var xIdx = stack([cols.Low, cols.High, cols.Low, cols.High], -1).view(k, 1, sx, 4);
        var yW = stack([rows.HighWeight, rows.HighWeight, rows.LowWeight, rows.LowWeight], -1).view(k, sy, 1, 4);
        var xW = stack([cols.HighWeight, cols.LowWeight, cols.HighWeight, cols.LowWeight], -1).view(k, 1, sx, 4);
        var column = (batch * (h * w)).view(k, 1, 1, 1) + yIdx * w + xIdx;
        var weight = yW * xW / count.view(k, 1, 1, 1);
        var ph = arange(outputSize.H, device: device).repeat_interleave(gy).view(1, sy, 1, 1);
        var pw = arange(outputSize.W, device: device).repeat_interleave(gx).view(1, 1, sx, 1);
        var row = ((arange(k, device: device).view(k, 1, 1, 1) * outputSize.H + ph) * outputSize.W + pw).expand(
            k,
            sy,
            sx,
            4
        );

        var keep = weight.ne(0).flatten();
        var indices = stack([row.flatten()[keep], column.flatten()[keep]]);
        var matrix = sparse_coo_tensor(
            indices,
            weight.flatten()[keep],
            new long[] { k * outputSize.H * outputSize.W, shape[0] * h * w }
        );
        var pooled = matrix.mm(flat); // [K·PH·PW, C]
        return pooled.view(k, outputSize.H, outputSize.W, c).permute(0, 3, 1, 2).MoveToOuterDisposeScope();
    }

    static Tensor EmptyOutput(Tensor input, long c, (int H, int W) outputSize) =>
        zeros(new long[] { 0, c, outputSize.H, outputSize.W }, dtype: input.dtype, device: input.device);

    /// <summary>Sample rows/columns, per-RoI sample count and batch index, as in the C++ kernel.</summary>
    static (Axis Rows, Axis Cols, Tensor Count, Tensor Batch) Samples(
        ScalarType dtype,
        long[] shape,
        Tensor rois,
        (int H, int W) outputSize,
        double spatialScale,
        int samplingRatio,
        bool aligned
    )
    {
        var r = rois.to(float64);
        double offset = aligned ? 0.5 : 0.0;
        // As in the C++ kernel: coordinates computed in double, stored in the feature dtype.
        var x1 = (r[.., 1] * spatialScale - offset).to(dtype);
        var y1 = (r[.., 2] * spatialScale - offset).to(dtype);
        var x2 = (r[.., 3] * spatialScale - offset).to(dtype);
        var y2 = (r[.., 4] * spatialScale - offset).to(dtype);
        var roiW = x2 - x1;
        var roiH = y2 - y1;
        if (!aligned)
        {
            roiW = roiW.clamp_min(1.0);
            roiH = roiH.clamp_min(1.0);
        }

        var rows = SampleAxis(y1, roiH, outputSize.H, samplingRatio, shape[2]);
        var cols = SampleAxis(x1, roiW, outputSize.W, samplingRatio, shape[3]);
        var count = (rows.Grid * cols.Grid).clamp_min(1).to(dtype);
        return (rows, cols, count, r[.., 0].to(int64));
    }

    static Tensor PoolChunk(
        Tensor flat,
        Tensor batch,
        Axis rows,
        Axis cols,
        Tensor count,
        long h,
        long w,
        long c,
        (int H, int W) outputSize
    )
    {
        long k = batch.shape[0],
            sy = rows.Low.shape[1],
            sx = cols.Low.shape[1];
        var imageBase = (batch * (h * w)).view(k, 1, 1);
        Tensor Gather(Tensor yIdx, Tensor xIdx)
        {
            var index = imageBase + yIdx.view(k, sy, 1) * w + xIdx.view(k, 1, sx);
            return flat.index_select(0, index.view(-1)).view(k, sy, sx, c);
        }
        Tensor Weight(Tensor wy, Tensor wx) => (wy.view(k, sy, 1) * wx.view(k, 1, sx)).unsqueeze(-1);

        // w1*v1 + w2*v2 + w3*v3 + w4*v4, summed in the kernel's order.
        var value = Weight(rows.HighWeight, cols.HighWeight) * Gather(rows.Low, cols.Low);
        value = value + Weight(rows.HighWeight, cols.LowWeight) * Gather(rows.Low, cols.High);
        value = value + Weight(rows.LowWeight, cols.HighWeight) * Gather(rows.High, cols.Low);
        value = value + Weight(rows.LowWeight, cols.LowWeight) * Gather(rows.High, cols.High);

        var bins = value.view(k, outputSize.H, sy / outputSize.H, outputSize.W, sx / outputSize.W, c).sum([2, 4]);
        return (bins / count.view(k, 1, 1, 1)).permute(0, 3, 1, 2).contiguous();
    }

    /// <summary>
    /// Sample positions along one axis for every RoI: <c>bins × maxGrid</c> samples, of which the first
    /// <c>Grid[k]</c> in each bin are real; the others (adaptive grids smaller than the largest) and samples
    /// outside [−1, size] get zero weight. "High"/"Low" weights are torchvision's (1 − l) and l.
    /// </summary>
    sealed record Axis(Tensor Low, Tensor High, Tensor LowWeight, Tensor HighWeight, Tensor Grid)
    {
        public Axis Slice(long start, long end) =>
            new(
                Low.Rows(start, end),
                High.Rows(start, end),
                LowWeight.Rows(start, end),
                HighWeight.Rows(start, end),
                Grid.Rows(start, end)
            );
    }

    static Axis SampleAxis(Tensor start, Tensor length, int bins, int samplingRatio, long size)
    {
        var dtype = start.dtype;
        var binSize = length / (float)bins;
        var grid =
            samplingRatio > 0
                ? full_like(length, samplingRatio, dtype: int64)
                : (length / (float)bins).ceil().to(int64);
        long maxGrid = samplingRatio > 0 ? samplingRatio : Math.Max(1, grid.max().item<long>());

        var bin = arange(bins, dtype: dtype, device: start.device).repeat_interleave(maxGrid); // [bins*G]
        var sub = arange(maxGrid, dtype: int64, device: start.device).repeat(bins); // [bins*G]
        // yy = start + ph * bin_size + (iy + .5) * bin_size / grid, in the kernel's evaluation order.
        var pos =
            (start.unsqueeze(1) + bin.unsqueeze(0) * binSize.unsqueeze(1))
            + ((sub.to(dtype).unsqueeze(0) + 0.5f) * binSize.unsqueeze(1)) / grid.clamp_min(1).to(dtype).unsqueeze(1);
        var real = sub.unsqueeze(0).lt(grid.unsqueeze(1));
        var inside = pos.ge(-1.0f).logical_and(pos.le((float)size));

        var p = pos.clamp_min(0);
        var low = p.floor().to(int64); // p ≥ 0, so floor == the kernel's (int) truncation
        var atEnd = low.ge(size - 1);
        low = where(atEnd, size - 1, low);
        var high = where(atEnd, low, low + 1);
        p = where(atEnd, low.to(dtype), p);
        var l = p - low.to(dtype);
        var keep = real.logical_and(inside).to(dtype);
        return new Axis(low, high, l * keep, (1.0f - l) * keep, grid);
    }
}
