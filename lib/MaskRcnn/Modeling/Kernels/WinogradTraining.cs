using TorchSharp;
using static TorchSharp.torch;

namespace MaskRcnn.Modeling.Kernels;

/// <summary>
/// The Winograd 3×3 convolution (stride 1, padding 1) with its gradients, for training steps
/// (<see cref="WinogradConv2d"/> while gradients are recorded): a custom autograd function whose forward pass is
/// <see cref="Winograd.Convolve"/> and whose backward pass computes
/// <list type="bullet">
/// <item>the input's gradient as the same Winograd convolution of the output's gradient with the transposed, flipped
/// filters (for stride 1 and padding 1 that is exactly the transposed convolution: 4× less arithmetic again);</item>
/// <item>the weights' gradient as nine matrix products, one per kernel tap (<see cref="GradWeight"/>): output
/// gradient [C_out × positions] times the input shifted by that tap [positions × C_in], oneMKL's GEMM at full
/// speed where oneDNN's weight-gradient kernel ran at about half its forward rate;</item>
/// <item>the bias's gradient as the sum of the output's gradient.</item>
/// </list>
/// The filters are transformed at every call in float32 (the weights change at every step). Gradients agree with
/// the direct convolution's to float rounding (relative error ~1e-5–1e-4, <c>WinogradTests</c>).
/// </summary>
public static class WinogradTraining
{
    /// <summary>conv2d(x, weight, bias, padding 1) with autograd: gradients for whichever of x, weight, bias require
    /// them.</summary>
    public static Tensor Apply(Tensor x, Tensor weight, Tensor? bias) => WinogradConvFunction.apply(x, weight, bias!);

    /// <summary>The forward pass alone (no graph).</summary>
    public static Tensor Forward(Tensor x, Tensor weight, Tensor? bias)
    {
        using var filter = Winograd.TransformFilter(weight, exact: false);
        return Winograd.Convolve(x, filter, bias);
    }

    /// <summary>
    /// Throws the error that a Winograd layer's backward pass on this thread met since the last check, if any. An
    /// exception cannot travel back through libtorch's autograd engine (TorchSharp would end the process), so the
    /// backward pass catches it, returns no gradients for that layer and leaves it here;
    /// <see cref="Layers.Backward(Tensor)"/> (<see cref="MaskRCNN.Backward(Tensor)"/>) checks it after every backward
    /// pass.
    /// </summary>
    public static void ThrowIfBackwardFailed()
    {
        if (_failure is not { } e)
            return;
        _failure = null;
        throw new InvalidOperationException($"the backward pass of a Winograd convolution failed: {e.Message}", e);
    }

    [ThreadStatic]
    static Exception? _failure;

    /// <summary>
    /// The gradients the last backward call on this thread returned: libtorch copies them when that call returns, so
    /// the next call (or the caller's dispose scope, whichever comes first) releases them — not the end of the step.
    /// </summary>
    [ThreadStatic]
    static List<Tensor>? _returned;

    /// <summary>∂L/∂x for y = conv2d(x, weight, padding 1), given ∂L/∂y: the convolution of ∂L/∂y with the transposed,
    /// flipped filters.</summary>
    public static Tensor GradInput(Tensor gradOutput, Tensor weight)
    {
        using var flipped = weight.detach().transpose(0, 1).flip(2, 3);
        return Forward(gradOutput, flipped, null);
    }

    /// <summary>
    /// ∂L/∂weight [C_out, C_in, 3, 3] for y = conv2d(x, weight, padding 1), given ∂L/∂y, without copies of either:
    /// per image, with x and ∂L/∂y as channels-last matrices [H·W, C], tap (i, j) of the kernel is
    /// ∂L/∂y[p]ᵀ · x[p + s] summed over positions p, s = (i − 1)·W + (j − 1) — one GEMM over the contiguous range of p
    /// where p + s lies in the image. For j ≠ 1 that range also pairs the last column of a row with the first of the
    /// next (or the reverse); those wrapped pairs, one per row, are subtracted again by a second, small GEMM over
    /// strided views.
    /// </summary>
    public static Tensor GradWeight(Tensor x, Tensor gradOutput)
    {
        using var scope = NewDisposeScope();
        long n = x.shape[0],
            c = x.shape[1],
            h = x.shape[2],
            w = x.shape[3],
            cout = gradOutput.shape[1],
            hw = h * w;
        var input = x.detach().permute(0, 2, 3, 1).contiguous(); // views when channels-last
        var grad = gradOutput.detach().permute(0, 2, 3, 1).contiguous();
        var taps = zeros(new long[] { 3, 3, cout, c }, dtype: x.dtype, device: x.device);
        for (long image = 0; image < n; image++)
        {
            var xi = input[image].view(hw, c);
            var gi = grad[image].view(hw, cout);
            for (int i = 0; i < 3; i++)
            for (int j = 0; j < 3; j++)
            {
                using var tapScope = NewDisposeScope();
                long shift = (i - 1) * w + (j - 1),
                    p0 = Math.Max(0, -shift),
                    p1 = Math.Min(hw, hw - shift);
                if (p1 <= p0)
                    continue; // the tap never lands inside (H or W below 2)
                var tap = taps[i][j];
                tap.addmm_(gi.narrow(0, p0, p1 - p0).t(), xi.narrow(0, p0 + shift, p1 - p0));
                if (j == 1)
                    continue;
                // Wrapped pairs: p in the last column read the next row's first (j = 2), p in the first column the
                // previous row's last (j = 0).
                long column = j == 2 ? w - 1 : 0;
                long r0 = -FloorDiv(column - p0, w),
                    r1 = FloorDiv(p1 - 1 - column, w); // rows r with p = r·W + column in [p0, p1)
                if (r1 < r0)
                    continue;
                // [rows, C_out], row stride W·C_out
                var wrappedGrad = grad[image].select(1, column).narrow(0, r0, r1 - r0 + 1);
                long xRow0 = (r0 * w + column + shift) / w;
                var wrappedInput = input[image].select(1, w - 1 - column).narrow(0, xRow0, r1 - r0 + 1);
                tap.addmm_(wrappedGrad.t(), wrappedInput, beta: 1, alpha: -1);
            }
        }
        return taps.permute(2, 3, 0, 1).contiguous().MoveToOuterDisposeScope();
    }

    static long FloorDiv(long a, long b) => a >= 0 ? a / b : -((-a + b - 1) / b);

    /// <summary>The autograd node: saves x and the weights (not the transformed filters, 4× larger; they are
    /// recomputed).</summary>
    sealed class WinogradConvFunction : autograd.SingleTensorFunction<WinogradConvFunction>
    {
        public override string Name => "WinogradConv2dBackward";

        public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
        {
            var (x, weight, bias) = ((Tensor)vars[0], (Tensor)vars[1], vars[2] as Tensor);
            ctx.save_for_backward(new List<Tensor> { x, weight });
            ctx.save_data(
                "needs",
                (
                    x.requires_grad,
                    weight.requires_grad,
                    bias is not null && !bias.IsInvalid && bias.requires_grad,
                    bias is not null && !bias.IsInvalid
                )
            );
            return Forward(x, weight, bias);
        }

        public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor gradOutput)
        {
            _returned?.ForEach(t => t.Dispose());
            _returned = null;
            // One entry per argument of apply (TorchSharp checks the count), null where no gradient is needed.
            var grads = new List<Tensor> { null!, null!, null! };
            try
            {
                using var scope = NewDisposeScope();
                var saved = ctx.get_saved_variables();
                var (needsX, needsWeight, needsBias, hasBias) = ((bool, bool, bool, bool))ctx.get_data("needs");
                var (x, weight) = (saved[0], saved[1]);
                // One channels-last copy for both products (none when it already is; an expanded or NCHW one would be
                // copied twice).
                var g = gradOutput.permute(0, 2, 3, 1).contiguous().permute(0, 3, 1, 2);
                if (needsX)
                    grads[0] = GradInput(g, weight);
                if (needsWeight)
                    grads[1] = GradWeight(x, g);
                if (hasBias && needsBias)
                    grads[2] = g.sum(new long[] { 0, 2, 3 });
                _returned = grads.Where(t => t is not null).Select(t => t.MoveToOuterDisposeScope()).ToList();
            }
            catch (Exception e)
            {
                _failure ??= e;
                grads = new List<Tensor> { null!, null!, null! };
            }
            gradOutput.Dispose(); // TorchSharp's wrapper of libtorch's gradient: ours to release now
            return grads;
        }
    }
}
