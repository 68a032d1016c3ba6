using MaskRcnn.Config;

namespace MaskRcnn.Tests;

/// <summary>
/// The tests' one small model and training configuration: cpu-quick's recipe (ResNet-18 FPN, trainable batch norm,
/// anchors 16–256 px) on a small network — a 32-channel FPN, a 64-wide box head, two 32-channel mask convolutions — and
/// small images, at most 5 detections an image, so that a training step or a prediction takes a fraction of a second
/// on 2 cores. A test changes what
/// it is about (image size, epochs, steps, validation, precision) and nothing else.
/// </summary>
static class TinyTraining
{
    /// <param name="side">min_size = max_size, in pixels</param>
    /// <param name="epochs">training epochs</param>
    /// <param name="steps">steps per epoch</param>
    /// <param name="warmup">warm-up iterations</param>
    /// <param name="seed">training seed</param>
    public static MaskRcnnConfig Config(int side = 96, int epochs = 1, int steps = 1, int warmup = 2, int seed = 3) =>
        Presets.CpuQuick() with
        {
            FpnOutChannels = 32,
            RepresentationSize = 64,
            MaskLayers = [32, 32],
            MinSize = [side],
            MaxSize = side,
            RpnPreNmsTopNTrain = 200,
            RpnPostNmsTopNTrain = 100,
            RpnPreNmsTopNTest = 100,
            RpnPostNmsTopNTest = 50,
            BoxBatchSizePerImage = 32,
            RpnBatchSizePerImage = 64,
            BoxScoreThresh = 0.0,
            BoxDetectionsPerImg = 5,
            Training = Presets.CpuQuick().Training with
            {
                Epochs = epochs,
                StepsPerEpoch = steps,
                WarmupIters = warmup,
                ValidateEvery = 0,
                LogEvery = 1,
                Seed = seed,
            },
        };
}
