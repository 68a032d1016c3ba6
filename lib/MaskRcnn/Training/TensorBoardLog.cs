using MaskRcnn.Data;
using MaskRcnn.Modeling;
using MaskRcnn.Visualization;
using SkiaSharp;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MaskRcnn.Training;

/// <summary>
/// What a training run shows in TensorBoard (<c>tensorboard --logdir RUN</c>), written by TorchSharp's
/// <c>torch.utils.tensorboard.SummaryWriter</c> into one events.out.tfevents.* file in the run folder: the losses and
/// the learning rate at logged steps, the validation metrics, and at every validation a histogram of each trainable
/// weight and a few validation images with their predictions.
/// </summary>
public sealed class TensorBoardLog
{
    readonly SummaryWriter _writer;

    /// <summary>Validation images drawn with their predictions at every validation.</summary>
    public const int PredictionImages = 3;

    /// <summary>Score from which a prediction is drawn on those images.</summary>
    public const double PredictionMinScore = 0.5;

    public TensorBoardLog(string runDir)
    {
        _writer = torch.utils.tensorboard.SummaryWriter(runDir);
    }

    /// <summary>Scalars (tag → value) at a step; non-finite values are left out.</summary>
    public void Scalars(long step, IEnumerable<(string Tag, double Value)> values)
    {
        foreach (var (tag, value) in values.Where(v => double.IsFinite(v.Value)))
            _writer.add_scalar(tag, (float)value, Step(step), walltime: WallTime());
    }

    /// <summary>A histogram of every trainable weight (convolution kernels, fully connected matrices):
    /// "weights/NAME".</summary>
    public void WeightHistograms(long step, MaskRCNN model)
    {
        foreach (var (name, parameter) in model.named_parameters())
        {
            if (!parameter.requires_grad || parameter.dim() < 2)
                continue;
            using var scope = NewDisposeScope(); // the writer's float64 copy of the values is freed here
            _writer.add_histogram($"weights/{name}", parameter.detach().cpu(), Step(step), walltime: WallTime());
        }
    }

    /// <summary>
    /// The first <see cref="PredictionImages"/> images of <paramref name="data"/> with the model's detections
    /// (scores ≥ <see cref="PredictionMinScore"/>): "val/predictions/FILE".
    /// </summary>
    public void Predictions(long step, MaskRCNN model, Dataset data)
    {
        bool wasTraining = model.training;
        model.eval();
        try
        {
            var config = model.Config;
            var classNames = Enumerable.Range(0, config.NumClasses).Select(i => config.ClassName(i)).ToArray();
            for (int i = 0; i < Math.Min(PredictionImages, data.Count); i++)
            {
                using var scope = NewDisposeScope();
                using var sample = data.Load(i);
                using var detections = model.Predict(sample.Image);
                var figure = Draw.Detections(
                    sample.Image,
                    detections,
                    classNames,
                    PredictionMinScore,
                    caption: sample.Source.FileName
                );
                _writer.add_img(
                    $"val/predictions/{sample.Source.FileName}",
                    ToTensor(figure),
                    Step(step),
                    walltime: WallTime()
                );
            }
        }
        finally
        {
            if (wasTraining)
                model.train();
        }
    }

    /// <summary>A figure as uint8 [3, H, W].</summary>
    static Tensor ToTensor(Figure figure)
    {
        using var decoded = figure.ToBitmap();
        using var rgba = decoded.Copy(SKColorType.Rgba8888);
        var pixels = rgba.GetPixelSpan().ToArray();
        var hwc = tensor(pixels, new long[] { rgba.Height, rgba.Width, 4 }, dtype: ScalarType.Byte);
        return hwc[.., .., ..3].permute(2, 0, 1).contiguous();
    }

    /// <summary>TensorBoard's steps are 32-bit here; a run's iterations stay far below that.</summary>
    static int Step(long step) => checked((int)step);

    /// <summary>
    /// Seconds since 1970, what TensorBoard reads as wall time (the writer's own default is .NET ticks).
    /// </summary>
    static long WallTime() => DateTimeOffset.UtcNow.ToUnixTimeSeconds();
}
