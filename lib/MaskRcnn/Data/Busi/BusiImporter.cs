using System.Text.Json.Nodes;
using MaskRcnn.Data.Phantoms;
using MaskRcnn.Data.Via;

namespace MaskRcnn.Data.Busi;

/// <summary>
/// Imports the public BUSI dataset (Breast Ultrasound Images, Al-Dhabyani et al. 2020): folders benign/,
/// malignant/, normal/, each holding name.png with name_mask.png, name_mask_1.png, …. Every connected
/// component (4-connected) of every mask becomes an instance of the folder's class, written as a polygon along
/// its pixel edges (so it rasterises back to the same pixels); normal images are kept as negatives. A
/// deterministic stratified split (70/15/15 per class by default) writes our data-folder convention.
/// </summary>
public static class BusiImporter
{
    public static readonly string[] Classes = ["benign", "malignant", "normal"];

    public sealed record Report(
        IReadOnlyDictionary<string, int> Images,
        IReadOnlyDictionary<string, int> Instances,
        IReadOnlyList<ViaProblem> Problems
    );

    public static Report Import(
        string busiDir,
        string outDir,
        ulong seed = 0,
        double trainFraction = 0.7,
        double valFraction = 0.15,
        int minComponentPixels = 10
    )
    {
        if (!Directory.Exists(busiDir))
            throw new MaskRcnnException($"BUSI folder not found: {busiDir}");
        var problems = new List<ViaProblem>();
        var perSplit = DatasetLoader.Splits.ToDictionary(s => s, _ => new List<ViaWriter.Entry>());
        var images = DatasetLoader.Splits.ToDictionary(s => s, _ => 0);
        var instances = new Dictionary<string, int>();
        int found = 0;
        foreach (var cls in Classes)
        {
            string? dir = Directory
                .GetDirectories(busiDir)
                .FirstOrDefault(d => string.Equals(Path.GetFileName(d), cls, StringComparison.OrdinalIgnoreCase));
            if (dir is null)
            {
                problems.Add(new ViaProblem(cls + "/", null, "class folder not found"));
                continue;
            }
            var files = Directory
                .GetFiles(dir)
                .Where(f => IsImage(f) && !IsMask(f))
                .OrderBy(f => Path.GetFileName(f), StringComparer.Ordinal)
                .ToList();
            found += files.Count;
            var order = files.ToArray();
            new SplitMix(SplitMix.Derive(seed, (ulong)Array.IndexOf(Classes, cls))).Shuffle(order);
            int nTrain = (int)Math.Round(order.Length * trainFraction),
                nVal = (int)Math.Round(order.Length * valFraction);
            for (int i = 0; i < order.Length; i++)
            {
                string split =
                    i < nTrain ? "train"
                    : i < nTrain + nVal ? "val"
                    : "test";
                var entry = ImportImage(order[i], cls, Path.Combine(outDir, split), minComponentPixels, problems);
                if (entry is null)
                    continue;
                perSplit[split].Add(entry);
                images[split]++;
                instances[cls] = instances.GetValueOrDefault(cls) + entry.Regions.Count;
            }
        }
        if (found == 0)
            throw new MaskRcnnException(
                $"{busiDir}: no images under benign/, malignant/ or normal/ — is this the BUSI folder "
                    + "(Dataset_BUSI_with_GT)?"
            );
        foreach (var (split, entries) in perSplit)
            ViaWriter.Write(
                Path.Combine(outDir, split, DatasetLoader.AnnotationFile),
                entries.OrderBy(e => e.FileName, StringComparer.Ordinal)
            );
        return new Report(images, instances, problems);
    }

    static ViaWriter.Entry? ImportImage(
        string imagePath,
        string cls,
        string splitDir,
        int minPixels,
        List<ViaProblem> problems
    )
    {
        string name = Path.GetFileName(imagePath);
        ImageSize size;
        try
        {
            size = ImageIO.ReadSize(imagePath);
        }
        catch (ImageReadException e)
        {
            problems.Add(new ViaProblem(name, null, e.Message + "; skipped"));
            return null;
        }
        string stem = Path.GetFileNameWithoutExtension(imagePath);
        string dir = Path.GetDirectoryName(imagePath)!;
        var masks = Directory
            .GetFiles(dir, stem + "_mask*")
            .Where(f =>
                IsImage(f)
                && (
                    Path.GetFileNameWithoutExtension(f) == stem + "_mask"
                    || Path.GetFileNameWithoutExtension(f).StartsWith(stem + "_mask_")
                )
            )
            .Order(StringComparer.Ordinal)
            .ToList();
        var regions = new List<(ViaShape, JsonObject)>();
        if (cls != "normal" && masks.Count == 0)
            problems.Add(new ViaProblem(name, null, "no mask file; kept without instances"));
        foreach (var maskPath in masks)
        {
            byte[] rgb;
            ImageSize msize;
            try
            {
                (rgb, msize) = ImageIO.ReadRgb(maskPath);
            }
            catch (ImageReadException e)
            {
                problems.Add(new ViaProblem(name, null, e.Message + "; mask ignored"));
                continue;
            }
            if (msize != size)
            {
                problems.Add(
                    new ViaProblem(
                        name,
                        null,
                        $"{Path.GetFileName(maskPath)} is {msize.Width}×{msize.Height}, the image "
                            + $"{size.Width}×{size.Height}; mask ignored"
                    )
                );
                continue;
            }
            var binary = new byte[msize.Pixels];
            for (long p = 0; p < binary.Length; p++)
                binary[p] = (byte)(rgb[p * 3] > 127 || rgb[p * 3 + 1] > 127 || rgb[p * 3 + 2] > 127 ? 1 : 0);
            var (labels, sizes) = Contours.Components(binary, size.Width, size.Height);
            for (int id = 1; id <= sizes.Count; id++)
            {
                if (sizes[id - 1] < minPixels)
                {
                    problems.Add(
                        new ViaProblem(
                            name,
                            null,
                            $"{Path.GetFileName(maskPath)}: component of {sizes[id - 1]} px ignored (< {minPixels})"
                        )
                    );
                    continue;
                }
                if (cls == "normal")
                {
                    problems.Add(new ViaProblem(name, null, "mask on a normal image ignored"));
                    continue;
                }
                var (xs, ys) = Contours.TraceOuterBoundary(labels, size.Width, size.Height, id);
                regions.Add((new PolygonShape(xs, ys), new JsonObject { ["class"] = cls }));
            }
        }
        Directory.CreateDirectory(splitDir);
        string target = Path.Combine(splitDir, name);
        IO.AtomicFile.Copy(imagePath, target);
        return new ViaWriter.Entry(name, new FileInfo(target).Length, regions);
    }

    static bool IsImage(string f) => Path.GetExtension(f).ToLowerInvariant() is ".png" or ".jpg" or ".jpeg" or ".bmp";

    static bool IsMask(string f) => Path.GetFileNameWithoutExtension(f).Contains("_mask", StringComparison.Ordinal);
}
