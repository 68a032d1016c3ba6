using MaskRcnn.Data;
using MaskRcnn.Data.Coco;
using MaskRcnn.Evaluation;
using MaskRcnn.Modeling;

namespace MaskRcnn.Teaching;

/// <summary>What <see cref="CocoRoundTrip.Run"/> wrote and measured.</summary>
public sealed record CocoRoundTripResult(
    string Results,
    string GroundTruth,
    int Images,
    int Detections,
    EvaluationReport Report
)
{
    public override string ToString() =>
        $"wrote {Path.GetFileName(Results)} ({Detections} detections on {Images} images) and "
        + $"{Path.GetFileName(GroundTruth)}; evaluated from the two files: segm AP50 {Report.Segm?.AP50:F3}, "
        + $"bbox AP50 {Report.Bbox.AP50:F3}";
}

/// <summary>
/// Notebook 08's export: a model's detections on a split as COCO results (compressed-RLE masks), the split as COCO
/// ground truth, and the evaluation read back from the two files — what any COCO tool would compute.
/// </summary>
public static class CocoRoundTrip
{
    public static CocoRoundTripResult Run(MaskRCNN model, Dataset data, string folder, double threshold = 0.9)
    {
        Directory.CreateDirectory(folder);
        string truthFile = Path.Combine(folder, "test_gt.json");
        string resultsFile = Path.Combine(folder, "test_results.json");
        CocoInstances.Write(truthFile, data);
        var results = new List<CocoDetectionResult>();
        for (int i = 0; i < data.Count; i++)
        {
            using var image = ImageIO.ReadTensor(data.Images[i].Path);
            using var d = model.Predict(image);
            results.AddRange(CocoExport.ToResults(d, CocoResults.Id(i + 1)));
        }
        CocoResults.Write(resultsFile, results);
        var truth = CocoFiles.ReadGroundTruth(truthFile);
        var detections = CocoFiles.ReadResults(resultsFile, truth);
        var report = DatasetEvaluation.Report(
            truth.Objects,
            detections,
            truth.ImageIds,
            truth.CategoryNames,
            threshold
        );
        return new CocoRoundTripResult(resultsFile, truthFile, data.Count, results.Count, report);
    }

    /// <summary>The detections scoring at least <paramref name="minScore"/> on every image of
    /// <paramref name="data"/>.</summary>
    public static int CountDetections(MaskRCNN model, Dataset data, double minScore)
    {
        int count = 0;
        for (int i = 0; i < data.Count; i++)
        {
            using var image = ImageIO.ReadTensor(data.Images[i].Path);
            using var d = model.Predict(image);
            count += (int)d.Scores.ge(minScore).sum().item<long>();
        }
        return count;
    }
}
