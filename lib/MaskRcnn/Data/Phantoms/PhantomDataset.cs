using System.Text.Json.Nodes;
using MaskRcnn.Data.Via;
using SkiaSharp;

namespace MaskRcnn.Data.Phantoms;

/// <summary>Writes phantom data folders: DIR/{train,val,test}/ with PNGs and a VIA 2.x export.</summary>
public static class PhantomDataset
{
    /// <summary>
    /// The most pixels one data folder may hold, all images together (4.3 gigapixels: 65 000 images of 256 px): more is
    /// refused before anything is generated, rather than found as a full disk.
    /// </summary>
    public const long MaxPixels = 1L << 32;

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
        // BUSI-like scans are at most 650 × 560 px.
        long pixels = (long)(train + val + test) * (difficulty == "busi" ? 650 * 560 : (long)size * size);
        if (train < 0 || val < 0 || test < 0 || pixels > MaxPixels)
            throw new MaskRcnnException(
                $"{train + val + test:N0} images of up to {pixels / Math.Max(1, train + val + test):N0} pixels exceed "
                    + $"the budget of {MaxPixels:N0} pixels in all (about as many bytes of PNG); generate fewer or "
                    + "smaller images"
            );
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
            // Generated in parallel a chunk at a time (memory stays a chunk of images), written in order.
            const int Chunk = 64;
            var phantoms = new Phantom[Math.Min(Chunk, count)];
            var entries = new List<ViaWriter.Entry>();
            for (int i = 0; i < count; i++)
            {
                if (i % Chunk == 0)
                {
                    int first = i;
                    Parallel.For(
                        0,
                        Math.Min(Chunk, count - first),
                        k =>
                        {
                            ulong imageSeed = SplitMix.Derive(seed, (ulong)s, (ulong)(first + k));
                            phantoms[k] =
                                difficulty == "busi"
                                    ? BusiPhantomGenerator.Generate(imageSeed)
                                    : PhantomGenerator.Generate(size, imageSeed);
                        }
                    );
                }
                var phantom = phantoms[i % Chunk];
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
