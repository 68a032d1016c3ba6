using System.Text.Json.Nodes;
using MaskRcnn.Data.Via;
using SkiaSharp;

namespace MaskRcnn.Data.Phantoms;

/// <summary>Writes phantom data folders: DIR/{train,val,test}/ with PNGs and a VIA 2.x export.</summary>
public static class PhantomDataset
{
    /// <summary>Counts per split written, and per image class.</summary>
    public sealed record Summary(IReadOnlyDictionary<string, int> Images, IReadOnlyDictionary<string, int> Lesions, IReadOnlyDictionary<string, int> ImageClasses);

    /// <summary>
    /// Generates a data folder. Same (seed, counts, size) → the same bytes: each image's stream is derived
    /// from (seed, split, index), and PNGs are encoded without timestamps.
    /// </summary>
    public static Summary Write(string outDir, ulong seed, int train, int val, int test, int size = 256)
    {
        var images = new Dictionary<string, int>();
        var lesions = new Dictionary<string, int>();
        var classes = new Dictionary<string, int>();
        var splits = new (string Name, int Count)[] { ("train", train), ("val", val), ("test", test) };
        for (int s = 0; s < splits.Length; s++)
        {
            var (name, count) = splits[s];
            string dir = Path.Combine(outDir, name);
            Directory.CreateDirectory(dir);
            foreach (var stale in Directory.GetFiles(dir, "phantom_*.png")) File.Delete(stale);
            var entries = new List<ViaWriter.Entry>();
            for (int i = 0; i < count; i++)
            {
                var phantom = PhantomGenerator.Generate(size, SplitMix.Derive(seed, (ulong)s, (ulong)i));
                string file = $"phantom_{name}_{i:D4}.png";
                long bytes = WriteGrayPng(Path.Combine(dir, file), phantom.Pixels, size);
                entries.Add(new ViaWriter.Entry(file, bytes, phantom.Lesions
                    .Select(l => ((ViaShape)new PolygonShape(l.Xs, l.Ys), new JsonObject { ["class"] = l.ClassName })).ToList()));
                foreach (var l in phantom.Lesions) lesions[l.ClassName] = lesions.GetValueOrDefault(l.ClassName) + 1;
                classes[phantom.ImageClass] = classes.GetValueOrDefault(phantom.ImageClass) + 1;
            }
            ViaWriter.Write(Path.Combine(dir, DatasetLoader.AnnotationFile), entries);
            images[name] = count;
        }
        return new Summary(images, lesions, classes);
    }

    /// <summary>8-bit grayscale PNG; returns the file size.</summary>
    public static long WriteGrayPng(string path, byte[] pixels, int size)
    {
        using var bitmap = new SKBitmap(new SKImageInfo(size, size, SKColorType.Gray8, SKAlphaType.Opaque));
        pixels.CopyTo(bitmap.GetPixelSpan());
        ImageIO.WritePng(path, bitmap);
        return new FileInfo(path).Length;
    }
}
