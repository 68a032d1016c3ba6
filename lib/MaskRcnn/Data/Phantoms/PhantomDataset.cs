using System.Text.Json.Nodes;
using MaskRcnn.Data.Via;
using SkiaSharp;

namespace MaskRcnn.Data.Phantoms;

/// <summary>Writes phantom data folders: DIR/{train,val,test}/ with PNGs and a VIA 2.x export.</summary>
public static class PhantomDataset
{
    /// <summary>Counts per split written, and per image class.</summary>
    public sealed record Summary(
        IReadOnlyDictionary<string, int> Images,
        IReadOnlyDictionary<string, int> Lesions,
        IReadOnlyDictionary<string, int> ImageClasses
    );

    /// <summary>
    /// Generates a data folder. Same (seed, counts, size, difficulty) → the same bytes: each image's stream is derived
    /// from (seed, split, index), images are generated in parallel but written in order, and PNGs are encoded without
    /// timestamps. <paramref name="difficulty"/>: "easy" (square <paramref name="size"/>-px phantoms, data/phantom's
    /// kind) or "busi" (BUSI-like scans of varying size; <paramref name="size"/> is ignored, see
    /// <see cref="BusiPhantomGenerator"/>).
    /// </summary>
    public static Summary Write(
        string outDir,
        ulong seed,
        int train,
        int val,
        int test,
        int size = 256,
        string difficulty = "easy"
    )
    {
        if (difficulty is not ("easy" or "busi"))
            throw new MaskRcnnException($"--difficulty: '{difficulty}' (use easy or busi)");
        var images = new Dictionary<string, int>();
        var lesions = new Dictionary<string, int>();
        var classes = new Dictionary<string, int>();
        var splits = new (string Name, int Count)[] { ("train", train), ("val", val), ("test", test) };
        for (int s = 0; s < splits.Length; s++)
        {
            var (name, count) = splits[s];
            string dir = Path.Combine(outDir, name);
            Directory.CreateDirectory(dir);
            foreach (var stale in Directory.GetFiles(dir, "phantom_*.png"))
                File.Delete(stale);
            var phantoms = new Phantom[count];
            Parallel.For(
                0,
                count,
                i =>
                {
                    ulong imageSeed = SplitMix.Derive(seed, (ulong)s, (ulong)i);
                    phantoms[i] =
                        difficulty == "busi"
                            ? BusiPhantomGenerator.Generate(imageSeed)
                            : PhantomGenerator.Generate(size, imageSeed);
                }
            );
            var entries = new List<ViaWriter.Entry>();
            for (int i = 0; i < count; i++)
            {
                var phantom = phantoms[i];
                string file = $"phantom_{name}_{i:D4}.png";
                long bytes = WriteGrayPng(Path.Combine(dir, file), phantom.Pixels, phantom.Width, phantom.Height);
                entries.Add(
                    new ViaWriter.Entry(
                        file,
                        bytes,
                        phantom
                            .Lesions.Select(l =>
                                ((ViaShape)new PolygonShape(l.Xs, l.Ys), new JsonObject { ["class"] = l.ClassName })
                            )
                            .ToList()
                    )
                );
                foreach (var l in phantom.Lesions)
                    lesions[l.ClassName] = lesions.GetValueOrDefault(l.ClassName) + 1;
                classes[phantom.ImageClass] = classes.GetValueOrDefault(phantom.ImageClass) + 1;
            }
            ViaWriter.Write(Path.Combine(dir, DatasetLoader.AnnotationFile), entries);
            images[name] = count;
        }
        return new Summary(images, lesions, classes);
    }

    /// <summary>8-bit grayscale PNG of a square image; returns the file size.</summary>
    public static long WriteGrayPng(string path, byte[] pixels, int size) => WriteGrayPng(path, pixels, size, size);

    /// <summary>8-bit grayscale PNG, <paramref name="width"/> × <paramref name="height"/>; returns the file
    /// size.</summary>
    public static long WriteGrayPng(string path, byte[] pixels, int width, int height)
    {
        using var bitmap = new SKBitmap(new SKImageInfo(width, height, SKColorType.Gray8, SKAlphaType.Opaque));
        pixels.CopyTo(bitmap.GetPixelSpan());
        ImageIO.WritePng(path, bitmap);
        return new FileInfo(path).Length;
    }
}
