using System.Text.Json;
using System.Text.Json.Nodes;
using MaskRcnn.Data.Via;

namespace MaskRcnn.Data.Coco;

/// <summary>
/// COCO instances JSON (images, categories, annotations with polygon or RLE segmentation) to and from our
/// datasets. Category ids are our class ids (1 = first class); image ids count from 1 in dataset order.
/// </summary>
public static class CocoInstances
{
    /// <summary>The dataset as a COCO instances document. Polygons stay polygons unless <paramref name="rle"/>;
    /// explicit masks are always RLE.</summary>
    public static JsonObject Export(Dataset dataset, bool rle = false)
    {
        var images = new JsonArray();
        var annotations = new JsonArray();
        int annId = 1;
        for (int i = 0; i < dataset.Count; i++)
        {
            var img = dataset.Images[i];
            images.Add(
                new JsonObject
                {
                    ["id"] = i + 1,
                    ["file_name"] = img.FileName,
                    ["width"] = img.Width,
                    ["height"] = img.Height,
                }
            );
            foreach (var inst in img.Instances)
            {
                var mask = inst.Rasterize(img.Width, img.Height);
                var box = Rasterizer.BoundingBox(mask, img.Width, img.Height);
                if (box is null)
                    continue;
                var (x1, y1, x2, y2) = box.Value;
                long area = mask.LongCount(b => b != 0);
                JsonNode segmentation;
                if (!rle && inst.Shape is { HasArea: true } shape)
                {
                    var (xs, ys) = shape.Outline();
                    segmentation = new JsonArray(
                        new JsonArray(
                            xs.Zip(ys, (x, y) => new[] { x, y })
                                .SelectMany(p => p)
                                .Select(v => (JsonNode?)JsonValue.Create(Math.Round(v, 2)))
                                .ToArray()
                        )
                    );
                }
                else
                {
                    using var t = TorchSharp.torch.tensor(mask, new long[] { img.Height, img.Width });
                    var r = Rle.Encode(t);
                    segmentation = new JsonObject
                    {
                        ["size"] = new JsonArray(img.Height, img.Width),
                        ["counts"] = Rle.ToCompressedString(r.Counts),
                    };
                }
                annotations.Add(
                    new JsonObject
                    {
                        ["id"] = annId++,
                        ["image_id"] = i + 1,
                        ["category_id"] = inst.ClassId,
                        ["segmentation"] = segmentation,
                        ["area"] = area,
                        ["bbox"] = new JsonArray(x1, y1, x2 - x1, y2 - y1),
                        ["iscrowd"] = 0,
                    }
                );
            }
        }
        var categories = new JsonArray(
            dataset
                .Classes.Select(
                    (c, i) =>
                        (JsonNode?)
                            new JsonObject
                            {
                                ["id"] = i + 1,
                                ["name"] = c,
                                ["supercategory"] = "lesion",
                            }
                )
                .ToArray()
        );
        return new JsonObject
        {
            ["images"] = images,
            ["annotations"] = annotations,
            ["categories"] = categories,
        };
    }

    /// <summary>Writes <see cref="Export"/> atomically (<see cref="IO.AtomicFile"/>).</summary>
    public static void Write(string path, Dataset dataset, bool rle = false) =>
        IO.AtomicFile.WriteAllText(path, Export(dataset, rle).ToJsonString());

    /// <summary>
    /// Reads a COCO instances file: categories are matched to <paramref name="labels"/> by name (normalised);
    /// polygons (several per object allowed) and RLE (compressed or not) become instance masks; crowd
    /// annotations, unknown categories and images without a file are reported and skipped.
    /// </summary>
    public static Dataset Import(string path, string? imagesDir = null, LabelOptions? labels = null)
    {
        labels ??= LabelOptions.Default;
        imagesDir ??= Path.GetDirectoryName(Path.GetFullPath(path))!;
        string text = IO.InputFile.ReadAllText(path, "COCO instances file", IO.InputFile.MaxJsonBytes);
        var root =
            IO.JsonInput.Parse(text, path) as JsonObject
            ?? throw new MaskRcnnException($"{path}: not a COCO instances file (top level is not an object)");
        if (
            root["images"] is not JsonArray imgs
            || root["annotations"] is not JsonArray anns
            || root["categories"] is not JsonArray cats
        )
            throw new MaskRcnnException(
                $"{path}: not a COCO instances file (needs \"images\", \"annotations\" and \"categories\" lists)"
            );

        var known = LabelResolver.KnownNames(labels);
        var problems = new List<ViaProblem>();
        var catToClass = new Dictionary<long, int>();
        foreach (var c in cats.OfType<JsonObject>())
        {
            long id = (long)(ViaReader.Number(c["id"]) ?? -1);
            string name = c["name"]?.ToString() ?? "";
            if (known.TryGetValue(LabelResolver.Normalize(name), out var cls))
                catToClass[id] = cls;
            else
                problems.Add(
                    new ViaProblem(
                        path,
                        null,
                        $"category {id} '{name}' is not one of {string.Join(", ", labels.Classes)}; its annotations "
                            + "are skipped"
                    )
                );
        }
        var byImage = anns.OfType<JsonObject>()
            .GroupBy(a => (long)(ViaReader.Number(a["image_id"]) ?? -1))
            .ToDictionary(g => g.Key, g => g.ToList());
        var images = new List<AnnotatedImage>();
        foreach (var img in imgs.OfType<JsonObject>())
        {
            long id = (long)(ViaReader.Number(img["id"]) ?? -1);
            string file = img["file_name"]?.ToString() ?? "";
            string? imagePath = DatasetLoader.ResolveImage(imagesDir, file);
            if (imagePath is null)
            {
                problems.Add(new ViaProblem(file, null, $"image file not found in {imagesDir}; skipped"));
                continue;
            }
            int w = (int)(ViaReader.Number(img["width"]) ?? 0),
                h = (int)(ViaReader.Number(img["height"]) ?? 0);
            if (w <= 0 || h <= 0)
            {
                var s = ImageIO.ReadSize(imagePath);
                (w, h) = (s.Width, s.Height);
            }
            if (w > ImageIO.DefaultMaxPixels / Math.Max(1, h))
            {
                problems.Add(new ViaProblem(file, null, $"{w}×{h} exceeds the pixel limit; skipped"));
                continue;
            }
            if (InputBudget.RegionCountProblem(byImage.GetValueOrDefault(id, []).Count) is string tooMany)
            {
                problems.Add(new ViaProblem(file, null, tooMany));
                continue;
            }
            var instances = new List<Instance>();
            foreach (var (a, index) in byImage.GetValueOrDefault(id, []).Select((a, i) => (a, i)))
            {
                if (ViaReader.Number(a["iscrowd"]) is double crowd && crowd != 0)
                {
                    problems.Add(new ViaProblem(file, index, "crowd annotation skipped"));
                    continue;
                }
                long cat = (long)(ViaReader.Number(a["category_id"]) ?? -1);
                if (!catToClass.TryGetValue(cat, out var cls))
                    continue;
                var mask = Decode(a["segmentation"], w, h, out var problem);
                if (mask is null)
                {
                    problems.Add(new ViaProblem(file, index, problem!));
                    continue;
                }
                instances.Add(new Instance(cls, labels.Classes[cls - 1], null, mask, index));
            }
            images.Add(new AnnotatedImage(file, imagePath, w, h, instances));
        }
        return new Dataset(Path.GetFileName(path), labels.Classes, images, problems);
    }

    static RleMask? Decode(JsonNode? seg, int w, int h, out string? problem)
    {
        problem = null;
        switch (seg)
        {
            case JsonArray polygons:
            {
                var mask = new byte[(long)w * h];
                foreach (var poly in polygons.OfType<JsonArray>())
                {
                    if (InputBudget.VertexProblem("polygon", poly.Count / 2) is string many)
                    {
                        problem = many;
                        return null;
                    }
                    var v = poly.Select(ViaReader.Number).ToArray();
                    if (v.Length < 6 || v.Length % 2 != 0 || v.Any(x => x is null || !double.IsFinite(x.Value)))
                    {
                        problem = "polygon with fewer than 3 numeric points";
                        return null;
                    }
                    var points = v.Select(x => x!.Value).ToArray();
                    if (InputBudget.CoordinateProblem("polygon", points) is string absurd)
                    {
                        problem = absurd;
                        return null;
                    }
                    var shape = new PolygonShape(
                        points.Where((_, i) => i % 2 == 0).ToArray(),
                        points.Where((_, i) => i % 2 == 1).ToArray()
                    );
                    if (Rasterizer.WorkProblem(shape, w, h) is string tooComplex)
                    {
                        problem = tooComplex;
                        return null;
                    }
                    Rasterizer.Fill(shape, w, h, mask);
                }
                using var t = TorchSharp.torch.tensor(mask, new long[] { h, w });
                return Rle.Encode(t);
            }
            case JsonObject rle:
            {
                var size = (rle["size"] as JsonArray)?.Select(ViaReader.Number).ToArray();
                if (size is not { Length: 2 } || size[0] != h || size[1] != w)
                {
                    problem = $"RLE size does not match the {w}×{h} image";
                    return null;
                }
                long[] counts;
                try
                {
                    counts = rle["counts"] switch
                    {
                        JsonArray a => a.Select(x => (long)(ViaReader.Number(x) ?? -1)).ToArray(),
                        JsonValue s when s.TryGetValue<string>(out var str) => Rle.FromCompressedString(str),
                        _ => [],
                    };
                }
                catch (InvalidDataException e)
                {
                    problem = e.Message;
                    return null;
                }
                if (counts.Length == 0 || counts.Any(c => c < 0) || counts.Sum() != (long)w * h)
                {
                    problem = "RLE counts do not cover the image";
                    return null;
                }
                return new RleMask(h, w, counts);
            }
            default:
                problem = "missing or unknown segmentation";
                return null;
        }
    }
}
