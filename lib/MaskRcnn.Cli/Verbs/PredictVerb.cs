using System.CommandLine;
using System.Diagnostics;
using MaskRcnn.Config;
using MaskRcnn.Data;
using MaskRcnn.Data.Coco;
using MaskRcnn.Evaluation;
using MaskRcnn.Runtime;
using MaskRcnn.Weights;
using TorchSharp;

namespace MaskRcnn.Cli.Verbs;

/// <summary>
/// <c>maskrcnn predict --weights FILE [--arch A] [--num-classes N] [--min-size N] [--max-size N]
/// [--score-threshold F] [--device D] --image FILE... [--coco-json OUT]</c>
/// </summary>
static class PredictVerb
{
    public static Command Create()
    {
        var weights = new Option<string>("--weights")
        {
            Description = "a run folder, our checkpoint, or a torchvision .pth/.safetensors state dict",
            Required = true,
        };
        var arch = new Option<string?>("--arch")
        {
            Description = "resnet18-fpn | resnet34-fpn | resnet50-fpn | resnet101-fpn (default: read from the weights)",
        };
        var numClasses = Verbs.Range(
            new Option<int?>("--num-classes")
            {
                Description = "classes incl. background (default: read from the weights)",
            },
            2,
            100_000
        );
        var minSize = Verbs.Range(
            new Option<int?>("--min-size")
            {
                Description = "short-side resize target (default: the weights' config, 800 for torchvision's)",
            },
            32,
            MaskRcnnConfig.MaxImageSide,
            Verbs.SizeBudget
        );
        var maxSize = Verbs.Range(
            new Option<int?>("--max-size")
            {
                Description = "long-side limit (default: the weights' config, 1333 for torchvision's)",
            },
            32,
            MaskRcnnConfig.MaxImageSide,
            Verbs.SizeBudget
        );
        var score = Verbs.Fraction(
            new Option<double?>("--score-threshold") { Description = "minimum detection score (default 0.05)" }
        );
        var device = new Option<string>("--device")
        {
            Description = "cpu, cuda, cuda:N or auto",
            DefaultValueFactory = _ => "cpu",
        };
        var threads = Verbs.ThreadsOption();
        var images = new Option<string[]>("--image")
        {
            Description = "image file(s)",
            Required = true,
            AllowMultipleArgumentsPerToken = true,
        };
        var cocoJson = new Option<string?>("--coco-json")
        {
            Description = "write COCO detection results (RLE masks) here",
        };
        var precision = Verbs.InferencePrecisionOption();

        var cmd = new Command(
            "predict",
            "Detect and segment lesions in images; print a summary and optionally write COCO results."
        )
        {
            weights,
            arch,
            numClasses,
            minSize,
            maxSize,
            score,
            device,
            threads,
            images,
            cocoJson,
            precision,
        };
        cmd.Validators.Add(result =>
        {
            if (result.GetValue(minSize) is int mn && result.GetValue(maxSize) is int mx && mx < mn)
                result.AddError($"--max-size: {mx} is below --min-size {mn}");
        });
        cmd.SetAction(r =>
            Verbs.Run(() =>
            {
                var paths = r.GetValue(images)!;
                if (r.GetValue(cocoJson) is string target)
                {
                    Verbs.CheckOutput(target, "--coco-json", [r.GetValue(weights), .. paths]);
                    // Results name their image by file name: two images of one name would be one image to an
                    // evaluation, their detections pooled.
                    var shared = paths
                        .GroupBy(Path.GetFileName, StringComparer.Ordinal)
                        .FirstOrDefault(g => g.Count() > 1);
                    if (shared is not null)
                        throw new MaskRcnnException(
                            $"--image: {string.Join(" and ", shared.Distinct().Take(3))} share the file name "
                                + $"'{shared.Key}', which is their image_id in --coco-json; predict them in separate "
                                + "runs or rename one"
                        );
                }
                Verbs.InitializeTorch(r.GetValue(threads));
                var dev = TorchEnvironment.ResolveDevice(r.GetValue(device));
                MaskRcnnConfig Adjust(MaskRcnnConfig config)
                {
                    if (r.GetValue(minSize) is int mn)
                        config = config with { MinSize = [mn], MaxSize = Math.Max(mn, config.MaxSize) };
                    if (r.GetValue(maxSize) is int mx)
                        config = config with { MaxSize = mx };
                    if (r.GetValue(score) is double s)
                        config = config with { BoxScoreThresh = s };
                    return config;
                }
                var (model, description) = ModelLoader.Load(
                    r.GetValue(weights)!,
                    Adjust,
                    r.GetValue(arch),
                    r.GetValue(numClasses)
                );
                using var _model = model;
                Console.WriteLine($"model: {description}");
                model.to(dev);
                model.Precision = ComputePrecisionNames.Parse(r.GetValue(precision)!);
                if (model.Precision != ComputePrecision.Float32)
                    Console.WriteLine($"precision: {model.Precision.ShortName()} ({Autocast.Describe()})");
                // Each image on its own: a bad one is reported on its own line and the others are still predicted and
                // written; the exit code says whether any failed.
                var results = new List<CocoDetectionResult>();
                int failed = 0;
                foreach (var path in paths)
                {
                    try
                    {
                        var size = ImageIO.ReadSize(path);
                        if (model.Transform.SizeProblem(size.Height, size.Width) is string thin)
                            throw new MaskRcnnException(thin); // known from the header: not worth decoding
                        using var scope = torch.NewDisposeScope();
                        var image = ImageIO.ReadTensor(path);
                        var sw = Stopwatch.StartNew();
                        using var detections = model.Predict(image);
                        var elapsed = sw.Elapsed.TotalSeconds;
                        Console.WriteLine($"{path}: {detections.Count} detections in {elapsed:F2} s");
                        var (boxes, labels, scores) = detections.ToArrays();
                        for (int i = 0; i < Math.Min(boxes.Length, 10); i++)
                            Console.WriteLine(
                                $"  {model.Config.ClassName(labels[i]), -12} {scores[i]:F3}  "
                                    + $"[{string.Join(", ", boxes[i].Select(v => v.ToString("F1")))}]"
                            );
                        if (boxes.Length > 10)
                            Console.WriteLine($"  … {boxes.Length - 10} more");
                        if (r.GetValue(cocoJson) is not null)
                            results.AddRange(CocoExport.ToResults(detections, CocoResults.Id(Path.GetFileName(path))));
                    }
                    catch (Exception e) when (Verbs.IsExpected(e))
                    {
                        failed++;
                        Verbs.Report(e, path);
                    }
                }
                if (failed > 0)
                    Console.WriteLine($"predicted {paths.Length - failed} of {paths.Length} images; {failed} failed");
                if (r.GetValue(cocoJson) is string outPath && failed < paths.Length)
                {
                    CocoResults.Write(outPath, results);
                    Console.WriteLine($"wrote {results.Count} results to {outPath}");
                }
                return failed > 0 ? 1 : 0;
            })
        );
        return cmd;
    }
}
