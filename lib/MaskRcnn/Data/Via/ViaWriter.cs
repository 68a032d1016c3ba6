using System.Text.Json;
using System.Text.Json.Nodes;

namespace MaskRcnn.Data.Via;

/// <summary>Writes VIA 2.x exports ("Export annotations (as json)"), the format the data folders use.</summary>
public static class ViaWriter
{
    /// <summary>An image entry to write.</summary>
    public sealed record Entry(
        string FileName,
        long FileSize,
        IReadOnlyList<(ViaShape Shape, JsonObject Attributes)> Regions
    );

    public static string ToJson(IEnumerable<Entry> entries)
    {
        var root = new JsonObject();
        foreach (var e in entries)
        {
            var regions = new JsonArray();
            foreach (var (shape, attrs) in e.Regions)
                regions.Add(
                    new JsonObject
                    {
                        ["shape_attributes"] = ShapeAttributes(shape),
                        ["region_attributes"] = attrs.DeepClone(),
                    }
                );
            root[$"{e.FileName}{e.FileSize}"] = new JsonObject
            {
                ["filename"] = e.FileName,
                ["size"] = e.FileSize,
                ["regions"] = regions,
                ["file_attributes"] = new JsonObject(),
            };
        }
        return root.ToJsonString(new JsonSerializerOptions { WriteIndented = false });
    }

    /// <summary>Writes atomically (<see cref="IO.AtomicFile"/>): the file is whole or, on any failure, as it was.</summary>
    public static void Write(string path, IEnumerable<Entry> entries) =>
        IO.AtomicFile.WriteAllText(path, ToJson(entries));

    /// <summary>A parsed document back to 2.x export entries (invalid regions are dropped).</summary>
    public static IEnumerable<Entry> FromDocument(ViaDocument doc) =>
        doc.Images.Select(i => new Entry(
            i.FileName,
            i.FileSize ?? -1,
            i.Regions.Where(r => r.Shape is not null).Select(r => (r.Shape!, r.Attributes)).ToList()
        ));

    static JsonObject ShapeAttributes(ViaShape shape) =>
        shape switch
        {
            PolygonShape p => new JsonObject
            {
                ["name"] = "polygon",
                ["all_points_x"] = Numbers(p.Xs),
                ["all_points_y"] = Numbers(p.Ys),
            },
            PolylineShape p => new JsonObject
            {
                ["name"] = "polyline",
                ["all_points_x"] = Numbers(p.Xs),
                ["all_points_y"] = Numbers(p.Ys),
            },
            RectShape r => new JsonObject
            {
                ["name"] = "rect",
                ["x"] = r.X,
                ["y"] = r.Y,
                ["width"] = r.Width,
                ["height"] = r.Height,
            },
            CircleShape c => new JsonObject
            {
                ["name"] = "circle",
                ["cx"] = c.Cx,
                ["cy"] = c.Cy,
                ["r"] = c.R,
            },
            EllipseShape e => new JsonObject
            {
                ["name"] = "ellipse",
                ["cx"] = e.Cx,
                ["cy"] = e.Cy,
                ["rx"] = e.Rx,
                ["ry"] = e.Ry,
                ["theta"] = e.Theta,
            },
            PointShape p => new JsonObject
            {
                ["name"] = "point",
                ["cx"] = p.Cx,
                ["cy"] = p.Cy,
            },
            // VIA 2 has no line: a two-point polyline is its equivalent.
            LineShape l => new JsonObject
            {
                ["name"] = "polyline",
                ["all_points_x"] = Numbers([l.X1, l.X2]),
                ["all_points_y"] = Numbers([l.Y1, l.Y2]),
            },
            _ => throw new ArgumentException($"cannot write shape {shape.GetType().Name}"),
        };

    static JsonArray Numbers(IEnumerable<double> values) =>
        new(values.Select(v => (JsonNode?)JsonValue.Create(v)).ToArray());
}
