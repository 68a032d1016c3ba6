using System.Diagnostics;
using MaskRcnn.Config;
using MaskRcnn.Modeling;
using MaskRcnn.Visualization;
using static TorchSharp.torch;

namespace MaskRcnn.Teaching;

/// <summary>One input size of <see cref="ImageSizeStudy"/>: what the model's anchor generator made and what a
/// prediction cost.</summary>
public sealed record SizeMeasurement(
    [property: Column("side (px)", "N0")] int Side,
    [property: Column("anchors (counted)", "N0")] long Anchors,
    [property: Column("seconds / image", "F3")] double Seconds,
    [property: Column("memory a call adds at its peak (MB)", "F0")] double? PeakMegabytes
);

/// <summary>
/// How the input size moves the work: a preset's model predicts on square random images of several sides; for each,
/// the anchors the model's own anchor generator placed (read from an inspection, not computed from a formula), the
/// seconds per prediction and the peak resident memory during one prediction (Linux: the high-water mark, reset
/// before the call; null elsewhere).
/// </summary>
public static class ImageSizeStudy
{
    public static IReadOnlyList<SizeMeasurement> Run(MaskRcnnConfig preset, IEnumerable<int> sides, int timedRuns)
    {
        var rows = new List<SizeMeasurement>();
        foreach (int side in sides)
        {
            var config = preset with { MinSize = [side], MaxSize = side, BoxScoreThresh = 0.05 };
            manual_seed(0);
            using var model = new MaskRCNN(config);
            model.eval();
            var image = rand(3, side, side);
            long anchors;
            using (var inspection = Inspector.Inspect(model, image))
                anchors = inspection.Anchors.shape[0];
            double? peak = PeakMemory.During(() => model.Predict(image).Dispose());
            var clock = Stopwatch.StartNew();
            for (int i = 0; i < timedRuns; i++)
                model.Predict(image).Dispose();
            rows.Add(new SizeMeasurement(side, anchors, clock.Elapsed.TotalSeconds / timedRuns, peak));
        }
        return rows;
    }

    /// <summary>Seconds per image against the side, beside what growth with the pixel count would give.</summary>
    public static ChartHtml TimeChart(IReadOnlyList<SizeMeasurement> rows, string preset)
    {
        double[] sides = rows.Select(r => (double)r.Side).ToArray();
        var first = rows[0];
        return Charts.Render(
            ChartSpec.Lines(
                $"{preset}: inference time vs image size",
                "image side (px)",
                "seconds per image",
                new ChartSeries("measured", X: sides, Y: rows.Select(r => r.Seconds).ToArray()),
                new ChartSeries(
                    $"if time grew with the pixels (from {first.Side} px)",
                    X: sides,
                    Y: rows.Select(r => first.Seconds * Math.Pow((double)r.Side / first.Side, 2)).ToArray(),
                    Dash: true
                )
            )
        );
    }

    /// <summary>The anchors the model placed at each side, beside pure quadratic growth from the smallest
    /// side.</summary>
    public static ChartHtml AnchorChart(IReadOnlyList<SizeMeasurement> rows)
    {
        double[] sides = rows.Select(r => (double)r.Side).ToArray();
        var first = rows[0];
        return Charts.Render(
            ChartSpec.Lines(
                "Anchors vs image size",
                "image side (px)",
                "anchors per image",
                new ChartSeries("counted in the model", X: sides, Y: rows.Select(r => (double)r.Anchors).ToArray()),
                new ChartSeries(
                    $"(side / {first.Side})² × anchors at {first.Side} px",
                    X: sides,
                    Y: rows.Select(r => first.Anchors * Math.Pow((double)r.Side / first.Side, 2)).ToArray(),
                    Dash: true
                )
            )
        );
    }
}

/// <summary>The process's peak resident memory during an action (Linux), in MB.</summary>
public static class PeakMemory
{
    /// <summary>
    /// Resets the kernel's high-water mark (writing 5 to /proc/self/clear_refs), runs the action and reads VmHWM: the
    /// most resident memory the process held while it ran, less what it held before (so the action's own peak).
    /// Null where the kernel does not offer it.
    /// </summary>
    public static double? During(Action action)
    {
        bool reset = TryReset();
        double? before = ReadKilobytes("VmRSS");
        action();
        return reset && before is double b ? (ReadKilobytes("VmHWM") - b) / 1024.0 : null;
    }

    static bool TryReset()
    {
        try
        {
            File.WriteAllText("/proc/self/clear_refs", "5");
            return ReadKilobytes("VmHWM") is not null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    static double? ReadKilobytes(string field)
    {
        try
        {
            var line = File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith(field + ":"));
            return line is null ? null : double.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]);
        }
        catch (IOException)
        {
            return null;
        }
    }
}
