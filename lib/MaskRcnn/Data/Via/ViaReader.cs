using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace MaskRcnn.Data.Via;

/// <summary>
/// Reads every file the VGG Image Annotator writes: 1.x exports, 2.x exports, 2.x projects and 3.x image
/// projects (flavour detected from the content). Regions that cannot be used (unknown shape, missing or
/// non-numeric coordinates, polygons under 3 points) are kept with Shape = null and a <see cref="ViaProblem"/>;
/// a file that is not VIA, or not JSON, is a <see cref="ViaFormatException"/> naming it.
/// </summary>
public static class ViaReader
{
    /// <summary>
    /// Reads a VIA file: a regular file within <see cref="IO.InputFile.MaxJsonBytes"/> (a FIFO, a device such as
    /// /dev/zero or a larger file is refused before reading), JSON whose objects have unique keys.
    /// </summary>
    public static ViaDocument Read(string path)
    {
        string text;
        try
        {
            text = IO.InputFile.ReadAllText(path, "annotation file", IO.InputFile.MaxJsonBytes);
        }
        catch (MaskRcnnException e) when (e is not ViaFormatException)
        {
            throw new ViaFormatException(e.Message, e);
        }
        return Parse(text, path);
    }

    public static ViaDocument Parse(string json, string source = "<string>")
    {
        JsonNode? root;
        try
        {
            root = IO.JsonInput.Parse(json, source);
        }
        catch (MaskRcnnException e)
        {
            throw new ViaFormatException(e.Message, e.InnerException);
        }
        if (root is not JsonObject obj)
            throw new ViaFormatException($"{source}: not a VIA file (the top level is not a JSON object)");
        try
        {
            if (obj.ContainsKey("_via_img_metadata"))
                return ReadProject2(obj, source);
            if (obj.ContainsKey("project") && obj.ContainsKey("metadata") && obj.ContainsKey("file"))
                return ReadProject3(obj, source);
            return ReadExport(obj, source);
        }
        catch (ViaFormatException)
        {
            throw;
        }
        catch (Exception e)
            when (e
                    is InvalidOperationException
                        or FormatException
                        or OverflowException
                        or ArgumentException
                        or KeyNotFoundException
            )
        {
            throw new ViaFormatException($"{source}: malformed VIA file ({e.Message})", e);
        }
    }

    // ---- VIA 1.x / 2.x ------------------------------------------------------------------------------

    static ViaDocument ReadExport(JsonObject obj, string source)
    {
        if (obj.Count > 0 && obj.All(kv => kv.Value is not JsonObject entry || !entry.ContainsKey("filename")))
            throw new ViaFormatException(
                $"{source}: not a VIA file: no image entry has a \"filename\" "
                    + $"(top-level keys: {string.Join(", ", obj.Select(kv => kv.Key).Take(5))})"
            );
        var problems = new List<ViaProblem>();
        bool anyList = false,
            anyObject = false;
        var images = new List<ViaImage>();
        foreach (var (key, value) in obj)
        {
            if (value is not JsonObject entry || !entry.ContainsKey("filename"))
            {
                problems.Add(new ViaProblem(key, null, "entry has no \"filename\"; skipped"));
                continue;
            }
            var regionsNode = entry["regions"];
            anyList |= regionsNode is JsonArray;
            anyObject |= regionsNode is JsonObject;
            images.Add(ReadImage2(key, entry, problems));
        }
        // 1.x writes regions as {"0": …}; 2.x as a list. A file with no regions anywhere reads as 2.x.
        var flavour = anyObject && !anyList ? ViaFlavour.Export1 : ViaFlavour.Export2;
        return new ViaDocument(flavour, source, images, problems, null);
    }

    static ViaDocument ReadProject2(JsonObject obj, string source)
    {
        if (obj["_via_img_metadata"] is not JsonObject metadata)
            throw new ViaFormatException($"{source}: \"_via_img_metadata\" is not an object");
        var problems = new List<ViaProblem>();
        var images = new List<ViaImage>();
        foreach (var (key, value) in metadata)
        {
            if (value is not JsonObject entry)
            {
                problems.Add(new ViaProblem(key, null, "image entry is not an object; skipped"));
                continue;
            }
            images.Add(ReadImage2(key, entry, problems));
        }
        var defs = (obj["_via_attributes"] as JsonObject)?["region"] as JsonObject;
        return new ViaDocument(ViaFlavour.Project2, source, images, problems, defs);
    }

    static ViaImage ReadImage2(string key, JsonObject entry, List<ViaProblem> problems)
    {
        string fileName =
            entry["filename"] is JsonValue fv && fv.TryGetValue<string>(out var fn) && fn.Length > 0 ? fn : key;
        long? size = Number(entry["size"]) is double s && s >= 0 ? (long)s : null;
        var regions = new List<ViaRegion>();
        var regionNodes = entry["regions"] switch
        {
            JsonArray a => a.ToList(),
            JsonObject o => o.OrderBy(kv => int.TryParse(kv.Key, out var i) ? i : int.MaxValue)
                .Select(kv => kv.Value)
                .ToList(),
            null => [],
            _ => null,
        };
        if (regionNodes is null)
        {
            problems.Add(
                new ViaProblem(fileName, null, "\"regions\" is neither a list nor an object; no regions read")
            );
            regionNodes = [];
        }
        foreach (var node in regionNodes)
        {
            int index = regions.Count;
            if (node is not JsonObject region)
            {
                problems.Add(new ViaProblem(fileName, index, "region is not an object"));
                regions.Add(new ViaRegion(index, "(invalid)", null, []));
                continue;
            }
            var attrs = region["region_attributes"] as JsonObject ?? [];
            var shapeAttrs = region["shape_attributes"] as JsonObject;
            string shapeName = shapeAttrs?["name"] is JsonValue nv && nv.TryGetValue<string>(out var n) ? n : "(none)";
            ViaShape? shape = null;
            if (shapeAttrs is null)
                problems.Add(new ViaProblem(fileName, index, "region has no \"shape_attributes\""));
            else
                shape = Shape2(shapeName, shapeAttrs, msg => problems.Add(new ViaProblem(fileName, index, msg)));
            regions.Add(new ViaRegion(index, shapeName, shape, (JsonObject)attrs.DeepClone()));
        }
        return new ViaImage(
            key,
            fileName,
            size,
            regions,
            (entry["file_attributes"] as JsonObject)?.DeepClone() as JsonObject ?? []
        );
    }

    static ViaShape? Shape2(string name, JsonObject a, Action<string> problem)
    {
        double? Get(string field)
        {
            if (!a.ContainsKey(field))
            {
                problem($"{name}: missing \"{field}\"");
                return null;
            }
            var v = Number(a[field]);
            if (v is null || !double.IsFinite(v.Value))
            {
                problem($"{name}: \"{field}\" is not a finite number");
                return null;
            }
            if (InputBudget.CoordinateProblem($"{name}: \"{field}\"", [v.Value]) is string absurd)
            {
                problem(absurd);
                return null;
            }
            return v;
        }
        double[]? Points(string field)
        {
            if (a[field] is not JsonArray arr)
            {
                problem($"{name}: missing \"{field}\"");
                return null;
            }
            if (InputBudget.VertexProblem($"{name}: \"{field}\"", arr.Count) is string many)
            {
                problem(many);
                return null;
            }
            var values = arr.Select(Number).ToArray();
            if (values.Any(v => v is null || !double.IsFinite(v.Value)))
            {
                problem($"{name}: \"{field}\" has non-numeric or non-finite values");
                return null;
            }
            var points = values.Select(v => v!.Value).ToArray();
            if (InputBudget.CoordinateProblem($"{name}: \"{field}\"", points) is string absurd)
            {
                problem(absurd);
                return null;
            }
            return points;
        }
        switch (name)
        {
            case "polygon":
            case "polyline":
            {
                var xs = Points("all_points_x");
                var ys = Points("all_points_y");
                if (xs is null || ys is null)
                    return null;
                if (xs.Length != ys.Length)
                {
                    problem($"{name}: {xs.Length} x values but {ys.Length} y values");
                    return null;
                }
                if (name == "polyline")
                    return xs.Length >= 2 ? new PolylineShape(xs, ys) : Fail($"polyline with {xs.Length} point(s)");
                var (px, py) = DropClosingPoint(xs, ys);
                if (px.Length < 3)
                {
                    problem($"polygon with {px.Length} distinct point(s) (needs ≥ 3)");
                    return null;
                }
                return new PolygonShape(px, py);
            }
            case "rect":
            {
                double? x = Get("x"),
                    y = Get("y"),
                    w = Get("width"),
                    h = Get("height");
                if (x is null || y is null || w is null || h is null)
                    return null;
                if (w <= 0 || h <= 0)
                    return Fail($"rect with width {w} and height {h}");
                return new RectShape(x.Value, y.Value, w.Value, h.Value);
            }
            case "circle":
            {
                double? cx = Get("cx"),
                    cy = Get("cy"),
                    r = Get("r");
                if (cx is null || cy is null || r is null)
                    return null;
                return r > 0 ? new CircleShape(cx.Value, cy.Value, r.Value) : Fail($"circle with radius {r}");
            }
            case "ellipse":
            {
                double? cx = Get("cx"),
                    cy = Get("cy"),
                    rx = Get("rx"),
                    ry = Get("ry");
                if (cx is null || cy is null || rx is null || ry is null)
                    return null;
                double theta = a.ContainsKey("theta") ? Number(a["theta"]) ?? 0 : 0;
                if (!double.IsFinite(theta))
                    theta = 0;
                return rx > 0 && ry > 0
                    ? new EllipseShape(cx.Value, cy.Value, rx.Value, ry.Value, theta)
                    : Fail($"ellipse with radii {rx}, {ry}");
            }
            case "point":
            {
                double? cx = Get("cx"),
                    cy = Get("cy");
                return cx is null || cy is null ? null : new PointShape(cx.Value, cy.Value);
            }
            default:
                problem($"unknown shape \"{name}\"");
                return null;
        }
        ViaShape? Fail(string msg)
        {
            problem(msg);
            return null;
        }
    }

    /// <summary>VIA 1/2 polygons often repeat the first point at the end; the rasteriser does not need it.</summary>
    static (double[], double[]) DropClosingPoint(double[] xs, double[] ys)
    {
        int n = xs.Length;
        while (n > 1 && xs[n - 1] == xs[0] && ys[n - 1] == ys[0])
            n--;
        return (xs[..n], ys[..n]);
    }

    // ---- VIA 3 ------------------------------------------------------------------------------------------

    static readonly Dictionary<int, string> Shape3Names = new()
    {
        [1] = "point",
        [2] = "rect",
        [3] = "circle",
        [4] = "ellipse",
        [5] = "line",
        [6] = "polyline",
        [7] = "polygon",
        [8] = "extreme_rectangle",
        [9] = "extreme_circle",
    };

    static ViaDocument ReadProject3(JsonObject obj, string source)
    {
        var files =
            obj["file"] as JsonObject
            ?? throw new ViaFormatException($"{source}: VIA 3 project without a \"file\" object");
        var nonImages = files
            .Where(kv => kv.Value is JsonObject f && Number(f["type"]) is double t && t != 2)
            .Select(kv => kv.Key)
            .ToList();
        if (nonImages.Count > 0)
            throw new ViaFormatException(
                $"{source}: VIA 3 project of video/audio files (file ids {string.Join(", ", nonImages.Take(5))}); "
                    + "only image projects can be used for instance segmentation"
            );
        var attributes = obj["attribute"] as JsonObject ?? [];
        var metadata = obj["metadata"] as JsonObject ?? [];
        var problems = new List<ViaProblem>();

        // VIA 3 views list files; each metadata entry belongs to a view ("vid") and holds one region.
        var viewToFile = new Dictionary<string, string>();
        if (obj["view"] is JsonObject views)
            foreach (var (vid, v) in views)
                if ((v as JsonObject)?["fid_list"] is JsonArray fl && fl.Count > 0 && fl[0] is JsonNode first)
                    viewToFile[vid] = first.ToString();

        var regionsByFile = files.ToDictionary(kv => kv.Key, _ => new List<ViaRegion>());
        foreach (var (mid, m) in metadata)
        {
            if (m is not JsonObject meta)
            {
                problems.Add(new ViaProblem(mid, null, "metadata entry is not an object"));
                continue;
            }
            string vid = meta["vid"]?.ToString() ?? "";
            string fid = viewToFile.TryGetValue(vid, out var f) ? f : vid;
            if (!regionsByFile.TryGetValue(fid, out var list))
            {
                problems.Add(new ViaProblem(mid, null, $"refers to unknown view/file '{vid}'"));
                continue;
            }
            string fileName = (files[fid] as JsonObject)?["fname"]?.ToString() ?? fid;
            int index = list.Count;
            var xy = meta["xy"] as JsonArray;
            if (xy is null || xy.Count == 0)
            {
                // File-level metadata (no spatial shape): not a region.
                if (meta["z"] is JsonArray z && z.Count > 0)
                    problems.Add(
                        new ViaProblem(fileName, null, $"temporal metadata '{mid}' ignored (no spatial shape)")
                    );
                continue;
            }
            var values = xy.Count <= 2 * InputBudget.MaxVertices + 1 ? xy.Select(Number).ToArray() : [];
            int code = values.Length > 0 && values[0] is double c && c is >= 0 and <= 100 ? (int)c : -1;
            string shapeName = Shape3Names.TryGetValue(code, out var sn) ? sn : $"(code {xy[0]})";
            ViaShape? shape = null;
            if (values.Length == 0)
                problems.Add(
                    new ViaProblem(
                        fileName,
                        index,
                        InputBudget.VertexProblem($"{shapeName}: \"xy\"", (xy.Count - 1) / 2) ?? "too many coordinates"
                    )
                );
            else if (values.Skip(1).Any(v => v is null || !double.IsFinite(v.Value)))
                problems.Add(new ViaProblem(fileName, index, $"{shapeName}: non-numeric coordinates"));
            else if (
                InputBudget.CoordinateProblem($"{shapeName}: \"xy\"", values.Skip(1).Select(v => v!.Value))
                is string absurd
            )
                problems.Add(new ViaProblem(fileName, index, absurd));
            else
                shape = Shape3(
                    code,
                    values.Skip(1).Select(v => v!.Value).ToArray(),
                    msg => problems.Add(new ViaProblem(fileName, index, msg))
                );
            list.Add(new ViaRegion(index, shapeName, shape, ResolveOptions3(meta["av"] as JsonObject, attributes)));
        }
        var images = files
            .Select(kv => new ViaImage(
                kv.Key,
                (kv.Value as JsonObject)?["fname"]?.ToString() ?? kv.Key,
                null,
                regionsByFile[kv.Key],
                []
            ))
            .ToList();
        return new ViaDocument(ViaFlavour.Project3, source, images, problems, attributes);
    }

    static ViaShape? Shape3(int code, double[] p, Action<string> problem)
    {
        ViaShape? Need(int count, Func<ViaShape?> make)
        {
            if (p.Length < count)
            {
                problem(
                    $"{(Shape3Names.TryGetValue(code, out var n) ? n : "shape")} needs {count} numbers, has {p.Length}"
                );
                return null;
            }
            return make();
        }
        switch (code)
        {
            case 1:
                return Need(2, () => new PointShape(p[0], p[1]));
            case 2:
                return Need(
                    4,
                    () =>
                        p[2] > 0 && p[3] > 0
                            ? new RectShape(p[0], p[1], p[2], p[3])
                            : Fail("rect with non-positive size")
                );
            case 3:
                return Need(
                    3,
                    () => p[2] > 0 ? new CircleShape(p[0], p[1], p[2]) : Fail("circle with non-positive radius")
                );
            case 4:
                return Need(
                    4,
                    () =>
                        p[2] > 0 && p[3] > 0
                            ? new EllipseShape(p[0], p[1], p[2], p[3], p.Length > 4 ? p[4] : 0)
                            : Fail("ellipse with non-positive radius")
                );
            case 5:
                return Need(4, () => new LineShape(p[0], p[1], p[2], p[3]));
            case 6:
            case 7:
            {
                if (p.Length % 2 != 0)
                    return Fail("odd number of coordinates");
                var xs = p.Where((_, i) => i % 2 == 0).ToArray();
                var ys = p.Where((_, i) => i % 2 == 1).ToArray();
                if (code == 6)
                    return xs.Length >= 2 ? new PolylineShape(xs, ys) : Fail("polyline with fewer than 2 points");
                return xs.Length >= 3
                    ? new PolygonShape(xs, ys)
                    : Fail($"polygon with {xs.Length} point(s) (needs ≥ 3)");
            }
            case 8: // four extreme points → their bounding rectangle
                return Need(
                    8,
                    () =>
                    {
                        var xs = p.Where((_, i) => i % 2 == 0).ToArray();
                        var ys = p.Where((_, i) => i % 2 == 1).ToArray();
                        double w = xs.Max() - xs.Min(),
                            h = ys.Max() - ys.Min();
                        return w > 0 && h > 0
                            ? new RectShape(xs.Min(), ys.Min(), w, h)
                            : Fail("degenerate extreme rectangle");
                    }
                );
            case 9: // three points on the circle
                return Need(
                    6,
                    () =>
                        Geometry.CircleThrough((p[0], p[1]), (p[2], p[3]), (p[4], p[5])) is var (cx, cy, r) && r > 0
                            ? new CircleShape(cx, cy, r)
                            : Fail("extreme circle from collinear points")
                );
            default:
                return Fail($"unknown VIA 3 shape code {code}");
        }
        ViaShape? Fail(string msg)
        {
            problem(msg);
            return null;
        }
    }

    /// <summary>VIA 3 stores attribute ids and option ids; turn them into {attribute name: option name(s)}.</summary>
    static JsonObject ResolveOptions3(JsonObject? av, JsonObject attributes)
    {
        var result = new JsonObject();
        if (av is null)
            return result;
        foreach (var (aid, value) in av)
        {
            var def = attributes[aid] as JsonObject;
            string name = def?["aname"]?.ToString() ?? aid;
            var options = def?["options"] as JsonObject;
            string raw = value?.ToString() ?? "";
            if (options is null || options.Count == 0)
            {
                result[name] = raw;
                continue;
            }
            var ids = raw.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            var names = ids.Select(id => options[id]?.ToString() ?? id).ToArray();
            result[name] =
                names.Length == 1
                    ? JsonValue.Create(names[0])
                    : new JsonObject(names.Select(n => KeyValuePair.Create(n, (JsonNode?)JsonValue.Create(true))));
        }
        return result;
    }

    /// <summary>A number, or a string holding one (some tools write "123").</summary>
    internal static double? Number(JsonNode? node)
    {
        if (node is not JsonValue v)
            return null;
        if (v.TryGetValue<double>(out var d))
            return d;
        if (v.TryGetValue<long>(out var l))
            return l;
        if (
            v.TryGetValue<string>(out var s)
            && double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var p)
        )
            return p;
        return null;
    }
}
