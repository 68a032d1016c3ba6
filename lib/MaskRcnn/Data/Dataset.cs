using System.Text.Json.Serialization;
using MaskRcnn.Data.Coco;
using MaskRcnn.Data.Via;
using TorchSharp;
using static TorchSharp.torch;

namespace MaskRcnn.Data;

/// <summary>One object instance: a class and its outline (a VIA shape) or an explicit mask (COCO RLE, BUSI).</summary>
public sealed record Instance(int ClassId, string ClassName, ViaShape? Shape, RleMask? Mask, int RegionIndex = -1)
{
    /// <summary>The instance mask at image resolution, row-major.</summary>
    public byte[] Rasterize(int width, int height)
    {
        if (Mask is not null)
        {
            if (Mask.Width != width || Mask.Height != height)
                throw new MaskRcnnException($"mask is {Mask.Width}×{Mask.Height} but the image is {width}×{height}");
            using var t = Rle.Decode(Mask);
            return t.to(ScalarType.Byte).contiguous().data<byte>().ToArray();
        }
        return Shape is null ? new byte[(long)width * height] : Rasterizer.Rasterize(Shape, width, height);
    }
}

/// <summary>An image file and its instances. Boxes and masks are in this image's pixels.</summary>
public sealed record AnnotatedImage(
    string FileName,
    string Path,
    int Width,
    int Height,
    IReadOnlyList<Instance> Instances
)
{
    /// <summary>Image-level class for the clinical confusion matrix: "normal" without lesions, else the most severe
    /// (highest id) class.</summary>
    public string ImageClass(IReadOnlyList<string> classes) =>
        Instances.Count == 0 ? "normal" : classes[Instances.Max(i => i.ClassId) - 1];

    /// <summary>The regions the annotation file lists for this image, used or not (null when unknown).</summary>
    public int? RegionsListed { get; init; }

    /// <summary>
    /// True when some of the image's regions were left out (an unknown label, an invalid shape, …): its ground truth is
    /// incomplete, so whether it is normal, and whether a detection on it is a false positive, is unknown.
    /// </summary>
    public bool HasSkippedRegions => RegionsListed is int listed && listed > Instances.Count;
}

/// <summary>A model-ready sample: image [3, H, W] float in [0, 1]; boxes [N, 4] (x1, y1, x2, y2, x2/y2 exclusive pixel
/// extents); labels [N] int64; masks [N, H, W] uint8.</summary>
public sealed record Sample(Tensor Image, Tensor Boxes, Tensor Labels, Tensor Masks, AnnotatedImage Source)
    : IDisposable
{
    public void Dispose()
    {
        Image.Dispose();
        Boxes.Dispose();
        Labels.Dispose();
        Masks.Dispose();
    }
}

/// <summary>
/// What loading a split used and left out: images (each file counted once) and regions, listed in the annotation
/// file and used, and every problem met. <c>inspect-data</c>, <c>train</c> (RUN/data_problems.json) and
/// <c>evaluate</c> (its JSON's "data") write it.
/// </summary>
public sealed record DataReport(
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("images_listed")] int ImagesListed,
    [property: JsonPropertyName("images_used")] int ImagesUsed,
    [property: JsonPropertyName("images_skipped")] int ImagesSkipped,
    [property: JsonPropertyName("regions_listed")] int RegionsListed,
    [property: JsonPropertyName("regions_used")] int RegionsUsed,
    [property: JsonPropertyName("regions_skipped")] int RegionsSkipped,
    [property: JsonPropertyName("problems")] IReadOnlyList<ProblemEntry> Problems
)
{
    /// <summary>
    /// One line for the console: "2 of 3 images evaluated; 1 skipped: FILE: why; 1 of 9 regions not evaluated", the
    /// reasons (first three) only when <paramref name="reasons"/>.
    /// </summary>
    public string Describe(string verb = "used", bool reasons = true)
    {
        string text = $"{ImagesUsed} of {ImagesListed} images {verb}";
        if (ImagesSkipped > 0)
        {
            var skipped = Problems.Where(p => p.Region is null && p.Message.EndsWith("image skipped")).ToList();
            text += $"; {ImagesSkipped} skipped";
            if (reasons && skipped.Count > 0)
                text +=
                    ": "
                    + string.Join("; ", skipped.Take(3).Select(p => $"{p.Image}: {p.Message}"))
                    + (skipped.Count > 3 ? "; …" : "");
        }
        if (RegionsSkipped > 0)
            text += $"; {RegionsSkipped} region{(RegionsSkipped == 1 ? "" : "s")} not {verb} (of {RegionsListed})";
        return text;
    }
}

/// <summary>A set of annotated images with its class list (index 0 = background, not listed).</summary>
public sealed class Dataset(
    string name,
    IReadOnlyList<string> classes,
    IReadOnlyList<AnnotatedImage> images,
    IReadOnlyList<ViaProblem> problems
)
{
    public string Name { get; } = name;
    public IReadOnlyList<string> Classes { get; } = classes;
    public IReadOnlyList<AnnotatedImage> Images { get; } = images;
    public IReadOnlyList<ViaProblem> Problems { get; } = problems;
    public int Count => Images.Count;

    /// <summary>Image files the annotations list (each once), used or not.</summary>
    public int ImagesListed { get; init; } = images.Count;

    /// <summary>Regions the annotations list (valid or not, in used images or not).</summary>
    public int RegionsListed { get; init; } = images.Sum(i => i.Instances.Count);

    /// <summary>Regions that became instances.</summary>
    public int RegionsUsed => Images.Sum(i => i.Instances.Count);

    /// <summary>What was used and left out, with every problem.</summary>
    public DataReport Report() =>
        new(
            Name,
            ImagesListed,
            Count,
            ImagesListed - Count,
            RegionsListed,
            RegionsUsed,
            RegionsListed - RegionsUsed,
            Problems.Select(p => new ProblemEntry(p.Image, p.Region, p.Message)).ToList()
        );

    /// <summary>The first <paramref name="count"/> images (for quick experiments).</summary>
    public Dataset Take(int count) => new(Name, Classes, Images.Take(count).ToList(), Problems);

    /// <summary>
    /// This dataset without some images, each with the reason it cannot be used (added to <see cref="Problems"/>
    /// as "…; image skipped"); the listed counts stay, so the report counts them as skipped.
    /// </summary>
    public Dataset Exclude(IEnumerable<(AnnotatedImage Image, string Reason)> unusable)
    {
        var excluded = unusable.ToList();
        if (excluded.Count == 0)
            return this;
        var left = excluded.Select(e => e.Image).ToHashSet();
        var problems = excluded.Select(e => new ViaProblem(e.Image.FileName, null, $"{e.Reason}; image skipped"));
        var images = Images.Where(i => !left.Contains(i)).ToList();
        return new Dataset(Name, Classes, images, Problems.Concat(problems).ToList())
        {
            ImagesListed = ImagesListed,
            RegionsListed = RegionsListed,
        };
    }

    /// <summary>
    /// A shuffle of the image indices for an epoch, the same for a seed in every process and on every .NET version
    /// (Fisher–Yates over SplitMix64; not HashCode.Combine, which .NET randomises per process).
    /// </summary>
    public int[] Order(int epoch, int seed)
    {
        var order = Enumerable.Range(0, Count).ToArray();
        new Phantoms.SplitMix(Phantoms.SplitMix.Derive((ulong)(uint)seed, (ulong)(uint)epoch)).Shuffle(order);
        return order;
    }

    /// <summary>Decodes image <paramref name="index"/> and rasterises its instances; applies <paramref name="augment"/>
    /// when given.</summary>
    public Sample Load(
        int index,
        Augmenter? augment = null,
        int augmentSeed = 0,
        long maxPixels = ImageIO.DefaultMaxPixels
    )
    {
        var item = Images[index];
        using var scope = NewDisposeScope();
        var image = ImageIO.ReadTensor(item.Path, maxPixels);
        if (image.shape[1] != item.Height || image.shape[2] != item.Width)
            throw new MaskRcnnException(
                $"{item.Path}: image is {image.shape[2]}×{image.shape[1]} but was annotated as "
                    + $"{item.Width}×{item.Height}"
            );
        int n = item.Instances.Count;
        var masks =
            n == 0
                ? zeros(new long[] { 0, item.Height, item.Width }, dtype: ScalarType.Byte)
                : stack(
                    item.Instances.Select(i =>
                            tensor(i.Rasterize(item.Width, item.Height), new long[] { item.Height, item.Width })
                        )
                        .ToArray()
                );
        var labels = tensor(item.Instances.Select(i => (long)i.ClassId).ToArray(), dtype: int64);
        var sample = new Sample(image, MasksToBoxes(masks), labels, masks, item);
        if (augment is not null)
            sample = augment.Apply(sample, augmentSeed);
        return new Sample(
            sample.Image.MoveToOuterDisposeScope(),
            sample.Boxes.MoveToOuterDisposeScope(),
            sample.Labels.MoveToOuterDisposeScope(),
            sample.Masks.MoveToOuterDisposeScope(),
            item
        );
    }

    /// <summary>Tight boxes of masks [N, H, W] → [N, 4] float (x1, y1, x2 + 1, y2 + 1): the pixels' outer
    /// edges.</summary>
    public static Tensor MasksToBoxes(Tensor masks)
    {
        long n = masks.shape[0];
        if (n == 0)
            return zeros(0, 4);
        using var scope = NewDisposeScope();
        var any = masks.ne(0);
        var rows = any.any(2); // [N, H]
        var cols = any.any(1); // [N, W]
        var h = masks.shape[1];
        var w = masks.shape[2];
        var ry = arange(h, dtype: float32);
        var cx = arange(w, dtype: float32);
        var big = 1e9f;
        var y1 = where(rows, ry, big).amin(1);
        var y2 = where(rows, ry, -big).amax(1) + 1;
        var x1 = where(cols, cx, big).amin(1);
        var x2 = where(cols, cx, -big).amax(1) + 1;
        return stack([x1, y1, x2, y2], 1).MoveToOuterDisposeScope();
    }
}

/// <summary>Builds datasets from VIA files and data folders.</summary>
public static class DatasetLoader
{
    /// <summary>The annotation file name of a data-folder split (matterport's balloon convention).</summary>
    public const string AnnotationFile = "via_region_data.json";
    public static readonly string[] Splits = ["train", "val", "test"];

    /// <summary>DIR/SPLIT/via_region_data.json with its images beside it.</summary>
    /// <param name="decode">decode every image in full (truncated files are found here, not mid-epoch)</param>
    public static Dataset LoadSplit(
        string dataDir,
        string split,
        LabelOptions? labels = null,
        long maxPixels = ImageIO.DefaultMaxPixels,
        bool decode = false
    )
    {
        string dir = System.IO.Path.Combine(dataDir, split);
        string file = System.IO.Path.Combine(dir, AnnotationFile);
        if (!File.Exists(file))
            throw new MaskRcnnException(
                $"{dataDir}: no '{split}' split ({file} not found); a data folder holds "
                    + $"{string.Join(", ", Splits.Select(s => s + "/" + AnnotationFile))}"
            );
        string name = $"{System.IO.Path.GetFileName(System.IO.Path.GetFullPath(dataDir).TrimEnd('/'))}/{split}";
        return FromVia(file, dir, labels, maxPixels, name, decode);
    }

    /// <summary>
    /// Loads a VIA file: resolves labels, reads each image's size from its file, rasterisability checks.
    /// Images that are missing, unreadable, outside the images folder or listed twice, and regions that cannot be
    /// used, are left out and reported in <see cref="Dataset.Problems"/>; an unusable file is a
    /// <see cref="ViaFormatException"/>.
    /// </summary>
    public static Dataset FromVia(
        string annotationFile,
        string? imagesDir = null,
        LabelOptions? labels = null,
        long maxPixels = ImageIO.DefaultMaxPixels,
        string? name = null,
        bool decode = false
    )
    {
        imagesDir ??= System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(annotationFile))!;
        return FromDocument(ViaReader.Read(annotationFile), imagesDir, labels, maxPixels, name, decode);
    }

    /// <summary>As <see cref="FromVia"/>, for an already parsed document.</summary>
    public static Dataset FromDocument(
        ViaDocument doc,
        string imagesDir,
        LabelOptions? labels = null,
        long maxPixels = ImageIO.DefaultMaxPixels,
        string? name = null,
        bool decode = false
    )
    {
        labels ??= LabelOptions.Default;
        string annotationFile = doc.Source;
        var problems = doc.Problems.ToList();
        string? key = LabelResolver.DetectLabelKey(doc, labels);
        var known = LabelResolver.KnownNames(labels);
        var images = new List<AnnotatedImage>();
        var firstKey = new Dictionary<string, string>(StringComparer.Ordinal); // image file → first entry naming it
        int listed = 0;
        foreach (var entry in doc.Images)
        {
            var (path, note) = Resolve(imagesDir, entry.FileName);
            string file = path is null ? entry.FileName : System.IO.Path.GetFullPath(path);
            if (firstKey.TryGetValue(file, out var first))
            {
                // One file, one image: a second entry would count it twice and pair it with a second set of regions.
                problems.Add(new ViaProblem(entry.FileName, null, ListedAgain(entry, first)));
                continue;
            }
            firstKey[file] = entry.Key;
            listed++;
            if (note is not null)
                problems.Add(new ViaProblem(entry.FileName, null, note));
            if (path is null)
                continue;
            ImageSize size;
            try
            {
                size = ImageIO.ReadSize(path);
                if (size.Pixels > maxPixels)
                {
                    string why =
                        $"{size.Width}×{size.Height} = {size.Pixels:N0} pixels exceeds the pixel limit "
                        + $"of {maxPixels:N0}";
                    problems.Add(new ViaProblem(entry.FileName, null, why + "; image skipped"));
                    continue;
                }
                if (decode)
                    ImageIO.Verify(path, maxPixels);
            }
            catch (ImageReadException e)
            {
                problems.Add(new ViaProblem(entry.FileName, null, e.Message + "; image skipped"));
                continue;
            }

            if (InputBudget.RegionCountProblem(entry.Regions.Count) is string tooMany)
            {
                problems.Add(new ViaProblem(entry.FileName, null, tooMany));
                continue;
            }
            var instances = new List<Instance>();
            foreach (var region in entry.Regions)
            {
                if (region.Shape is null)
                    continue; // the reader already reported why
                if (!region.Shape.HasArea)
                {
                    problems.Add(
                        new ViaProblem(entry.FileName, region.Index, $"{region.ShapeName} has no area; skipped")
                    );
                    continue;
                }
                var (classId, problem) = LabelResolver.Resolve(region, key, labels, known);
                if (classId is null)
                {
                    if (labels.Unlabeled == UnlabeledPolicy.Error)
                        throw new ViaFormatException(
                            $"{annotationFile}: {entry.FileName} region {region.Index}: {problem}"
                        );
                    problems.Add(new ViaProblem(entry.FileName, region.Index, problem + "; region skipped"));
                    continue;
                }
                var (x1, y1, x2, y2) = region.Shape.Bounds;
                if (x1 < 0 || y1 < 0 || x2 > size.Width - 1 || y2 > size.Height - 1)
                    problems.Add(
                        new ViaProblem(
                            entry.FileName,
                            region.Index,
                            $"{region.ShapeName} extends outside the {size.Width}×{size.Height} image; clipped"
                        )
                    );
                if (Rasterizer.WorkProblem(region.Shape, size.Width, size.Height) is string tooComplex)
                {
                    problems.Add(new ViaProblem(entry.FileName, region.Index, tooComplex + "; skipped"));
                    continue;
                }
                var instance = new Instance(
                    classId.Value,
                    labels.Classes[classId.Value - 1],
                    region.Shape,
                    null,
                    region.Index
                );
                if (
                    Rasterizer.BoundingBox(instance.Rasterize(size.Width, size.Height), size.Width, size.Height) is null
                )
                {
                    problems.Add(
                        new ViaProblem(
                            entry.FileName,
                            region.Index,
                            $"{region.ShapeName} covers no pixel centre inside the image; skipped"
                        )
                    );
                    continue;
                }
                instances.Add(instance);
            }
            images.Add(
                new AnnotatedImage(entry.FileName, path, size.Width, size.Height, instances)
                {
                    RegionsListed = entry.Regions.Count,
                }
            );
        }
        return new Dataset(name ?? System.IO.Path.GetFileName(annotationFile), labels.Classes, images, problems)
        {
            ImagesListed = listed,
            RegionsListed = doc.RegionCount,
        };
    }

    /// <summary>
    /// The problem of an entry naming a file that an earlier entry (key <paramref name="firstKey"/>) named: one file is
    /// one image, and a second entry would count it twice and pair it with a second set of regions.
    /// </summary>
    public static string ListedAgain(ViaImage entry, string firstKey) =>
        $"listed again under key '{entry.Key}' (first under '{firstKey}'); this entry and its {entry.Regions.Count} "
        + $"region{(entry.Regions.Count == 1 ? "" : "s")} are not used";

    /// <summary>
    /// DIR/name, else DIR/basename(name) (VIA entries often carry paths from the annotator's machine); never a file
    /// outside DIR.
    /// </summary>
    public static string? ResolveImage(string dir, string fileName) => Resolve(dir, fileName).Path;

    /// <summary>
    /// The file an entry names, inside <paramref name="dir"/> only: DIR/name, else DIR/basename(name). A name that
    /// leaves DIR (an absolute path, "..") is never followed — a test image named so would leak into training —
    /// though a file of its base name inside DIR is used, with a note. Path is null when there is no such file,
    /// and Problem then says why the image is skipped.
    /// </summary>
    public static (string? Path, string? Problem) Resolve(string dir, string fileName)
    {
        string name = fileName.Replace('\\', '/');
        string root = System.IO.Path.GetFullPath(dir).TrimEnd('/') + "/";
        string direct = System.IO.Path.Combine(dir, name);
        bool inside =
            !System.IO.Path.IsPathRooted(name)
            && !System.Text.RegularExpressions.Regex.IsMatch(name, "^[A-Za-z]:/") // C:\… from Windows
            && System.IO.Path.GetFullPath(direct).StartsWith(root, StringComparison.Ordinal);
        if (inside && File.Exists(direct))
            return (direct, null);
        string baseName = System.IO.Path.GetFileName(name),
            bare = System.IO.Path.Combine(dir, baseName);
        if (File.Exists(bare))
            return (bare, inside ? null : $"names a file outside the images folder {dir}; its {baseName} is used");
        return (
            null,
            inside
                ? $"image file not found in {dir}; image skipped"
                : $"names a file outside the images folder {dir} (absolute paths and '..' are not followed); "
                    + "image skipped"
        );
    }
}
