using System.Diagnostics;
using System.Text.Json.Nodes;
using MaskRcnn.Data;
using MaskRcnn.Data.Via;
using MaskRcnn.IO;
using static MaskRcnn.Tests.Reliability.ReliabilityData;

namespace MaskRcnn.Tests.Reliability;

/// <summary>
/// Inputs whose cost would grow without bound (issue 28): a file that is not a regular file (/dev/zero, a FIFO), a
/// file beyond its size budget, a polygon of a million points, an image of a thousand regions, coordinates of 1e308 —
/// each is refused or left out with one clear reason, in a moment, never minutes of work or a hang.
/// </summary>
public class InputBudgetTests
{
    /// <summary>Runs the CLI and fails the test if it takes longer than a CLI start and a small job.</summary>
    static (int Code, string Out, string Err) Quick(params string[] args)
    {
        var clock = Stopwatch.StartNew();
        var run = TestSupport.RunCli(args);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(60), $"{clock.Elapsed} for maskrcnn {string.Join(' ', args)}");
        return run;
    }

    [Fact]
    public void Devices_fifos_and_folders_are_refused_as_inputs_without_reading_them()
    {
        using var tmp = new TestSupport.TempDir();
        string fifo = tmp["annotations.fifo"];
        Fifo(fifo);
        foreach (var path in new[] { "/dev/zero", fifo, tmp.Path })
        {
            AssertOneError(Quick("inspect-data", "--annotations", path), path);
            AssertOneError(Quick("train", "--data", tmp["data"], "--config", path, "--out", tmp["run"]), path);
            AssertOneError(Quick("predict", "--weights", path, "--image", "x.png"), path);
            AssertOneError(Quick("evaluate", "--gt", path, "--dt", path, "--json", tmp["m.json"]), path);
        }
        Assert.False(Directory.Exists(tmp["run"]));
    }

    [Fact]
    public void A_fifo_named_as_an_image_is_left_out_and_reported()
    {
        using var tmp = new TestSupport.TempDir();
        string data = DataFolder(tmp, train: 2, test: 0);
        Fifo(Path.Combine(data, "train", "pipe.png"));
        var via = ReadVia(data, "train");
        via["pipe"] = Entry("pipe.png", "benign", (2, 2, 10, 10));
        WriteVia(data, "train", via);
        var (code, stdout, stderr) = Quick(
            "inspect-data",
            "--annotations",
            ViaPath(data, "train"),
            "--images",
            Path.Combine(data, "train")
        );
        Assert.True(code == 0, stderr);
        Assert.Contains("pipe.png", stdout);
        Assert.Contains("not a regular file", stdout);
    }

    [Fact]
    public void A_file_over_its_budget_is_refused_before_it_is_read()
    {
        using var tmp = new TestSupport.TempDir();
        string big = tmp["big.json"];
        using (var f = File.Create(big))
            f.SetLength(InputFile.MaxJsonBytes + 1); // sparse: no disk used
        AssertOneError(Quick("inspect-data", "--annotations", big), big, "budget");
        var error = Assert.Throws<ViaFormatException>(() => ViaReader.Read(big));
        Assert.Contains("budget", error.Message);
    }

    static JsonObject Polygon(double[] xs, double[] ys, string label = "benign") =>
        new()
        {
            ["shape_attributes"] = new JsonObject
            {
                ["name"] = "polygon",
                ["all_points_x"] = new JsonArray(xs.Select(v => (JsonNode?)v).ToArray()),
                ["all_points_y"] = new JsonArray(ys.Select(v => (JsonNode?)v).ToArray()),
            },
            ["region_attributes"] = new JsonObject { ["class"] = label },
        };

    static ViaDocument Document(params JsonObject[] regions) =>
        ViaReader.Parse(
            new JsonObject
            {
                ["a.png"] = new JsonObject { ["filename"] = "a.png", ["regions"] = new JsonArray(regions) },
            }.ToJsonString()
        );

    [Fact]
    public void A_polygon_over_the_vertex_budget_and_absurd_coordinates_are_left_out_with_their_reasons()
    {
        var clock = Stopwatch.StartNew();
        int n = 1_000_000;
        var million = Polygon(
            Enumerable.Range(0, n).Select(i => 64 + 60 * Math.Cos(i * 2 * Math.PI / n)).ToArray(),
            Enumerable.Range(0, n).Select(i => 64 + 60 * Math.Sin(i * 2 * Math.PI / n)).ToArray()
        );
        var huge = Polygon([0, 1e308, 0], [0, 0, 1e308]);
        var ellipse = new JsonObject
        {
            ["shape_attributes"] = new JsonObject
            {
                ["name"] = "ellipse",
                ["cx"] = 10,
                ["cy"] = 10,
                ["rx"] = 1e300,
                ["ry"] = 5,
            },
            ["region_attributes"] = new JsonObject { ["class"] = "benign" },
        };
        var doc = Document(million, huge, ellipse);
        Assert.All(doc.Images[0].Regions, r => Assert.Null(r.Shape));
        Assert.Contains(doc.Problems, p => p.Region == 0 && p.Message.Contains("budget"));
        Assert.Contains(doc.Problems, p => p.Region == 1 && p.Message.Contains("1E+308"));
        Assert.Contains(doc.Problems, p => p.Region == 2 && p.Message.Contains("\"rx\""));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(20), $"{clock.Elapsed}");
    }

    [Fact]
    public void A_polygon_whose_edges_cross_its_rows_too_often_is_refused_before_rasterising()
    {
        // 20000 points zigzagging up and down a 4096-px image: every row meets ~20000 edges, 3e11 tests.
        int n = 20_000;
        var xs = Enumerable.Range(0, n).Select(i => 4095.0 * i / (n - 1)).ToArray();
        var ys = Enumerable.Range(0, n).Select(i => i % 2 == 0 ? 0.0 : 4095.0).ToArray();
        var zigzag = new PolygonShape(xs, ys);
        var clock = Stopwatch.StartNew();
        Assert.NotNull(Rasterizer.WorkProblem(zigzag, 4096, 4096));
        Assert.Throws<MaskRcnnException>(() => Rasterizer.Rasterize(zigzag, 4096, 4096));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"{clock.Elapsed}");
        // An ordinary outline of many points is cheap: two edges per row.
        var circle = new PolygonShape(
            Enumerable.Range(0, 50_000).Select(i => 2048 + 2000 * Math.Cos(i * 2 * Math.PI / 50_000)).ToArray(),
            Enumerable.Range(0, 50_000).Select(i => 2048 + 2000 * Math.Sin(i * 2 * Math.PI / 50_000)).ToArray()
        );
        Assert.Null(Rasterizer.WorkProblem(circle, 4096, 4096));
    }

    /// <summary>The row-by-row fill gives every pixel the answer of the point-in-polygon test over all edges.</summary>
    [Fact]
    public void The_polygon_fill_equals_the_point_in_polygon_test_pixel_for_pixel()
    {
        var random = new Random(28);
        for (int trial = 0; trial < 200; trial++)
        {
            int w = random.Next(1, 40),
                h = random.Next(1, 40),
                n = random.Next(3, 12);
            bool integer = trial % 2 == 0; // integer vertices put pixel centres on edges and vertices
            double Coordinate(int side) => integer ? random.Next(-3, side + 3) : random.NextDouble() * (side + 6) - 3;
            var xs = Enumerable.Range(0, n).Select(_ => Coordinate(w)).ToArray();
            var ys = Enumerable.Range(0, n).Select(_ => Coordinate(h)).ToArray();
            var mask = Rasterizer.Rasterize(new PolygonShape(xs, ys), w, h);
            for (int r = 0; r < h; r++)
            for (int c = 0; c < w; c++)
                Assert.True(
                    (mask[r * w + c] == 1) == Geometry.PointInPolygon(xs, ys, c, r),
                    $"trial {trial}: pixel ({c}, {r}) of [{string.Join(", ", xs)}] × [{string.Join(", ", ys)}]"
                );
        }
    }

    [Fact]
    public void An_image_with_more_regions_than_the_budget_is_left_out_and_reported()
    {
        using var tmp = new TestSupport.TempDir();
        string data = DataFolder(tmp, train: 2, test: 0);
        var via = ReadVia(data, "train");
        var first = via.First().Value!.AsObject();
        var rects = Enumerable.Range(0, InputBudget.MaxRegionsPerImage + 1).Select(i => (i % 50, i % 40, 5, 5));
        var crowded = Entry(first["filename"]!.GetValue<string>(), "benign", rects.ToArray());
        via[via.First().Key] = crowded;
        WriteVia(data, "train", via);
        var ds = DatasetLoader.LoadSplit(data, "train");
        Assert.Equal(1, ds.Count);
        Assert.Contains(ds.Problems, p => p.Message.Contains("budget") && p.Message.Contains("image skipped"));
        Assert.Equal(1, ds.Report().ImagesSkipped);
    }

    [Fact]
    public void Coco_files_beyond_their_per_image_budgets_are_cut_and_counted()
    {
        using var tmp = new TestSupport.TempDir();
        var annotations = new JsonArray();
        for (int i = 0; i <= MaskRcnn.Evaluation.CocoFiles.MaxAnnotationsPerImage; i++)
            annotations.Add(
                new JsonObject
                {
                    ["image_id"] = 2,
                    ["category_id"] = 1,
                    ["bbox"] = new JsonArray(1, 1, 2, 2),
                }
            );
        annotations.Add(
            new JsonObject
            {
                ["image_id"] = 1,
                ["category_id"] = 1,
                ["bbox"] = new JsonArray(1, 1, 4, 4),
            }
        );
        string gt = tmp["gt.json"];
        File.WriteAllText(
            gt,
            new JsonObject
            {
                ["images"] = new JsonArray(
                    new JsonObject
                    {
                        ["id"] = 1,
                        ["width"] = 20,
                        ["height"] = 20,
                    },
                    new JsonObject
                    {
                        ["id"] = 2,
                        ["width"] = 20,
                        ["height"] = 20,
                    }
                ),
                ["annotations"] = annotations,
                ["categories"] = new JsonArray(new JsonObject { ["id"] = 1, ["name"] = "benign" }),
            }.ToJsonString()
        );
        var truth = MaskRcnn.Evaluation.CocoFiles.ReadGroundTruth(gt);
        Assert.Equal([1L], truth.ImageIds);
        // One line for the image, not one per annotation (and one for image 1's box without a mask).
        Assert.Single(truth.Problems, p => p.Message.Contains("budget"));
        Assert.Equal(2, truth.Problems.Count);

        string dt = tmp["dt.json"];
        int n = MaskRcnn.Evaluation.CocoFiles.MaxResultsPerImage + 5;
        File.WriteAllText(
            dt,
            new JsonArray(
                Enumerable
                    .Range(0, n)
                    .Select(i =>
                        (JsonNode?)
                            new JsonObject
                            {
                                ["image_id"] = 1,
                                ["category_id"] = 1,
                                ["bbox"] = new JsonArray(1, 1, 4, 4),
                                ["score"] = i / (double)n,
                            }
                    )
                    .ToArray()
            ).ToJsonString()
        );
        var results = MaskRcnn.Evaluation.CocoFiles.ReadResultsFile(dt, truth);
        Assert.Equal(MaskRcnn.Evaluation.CocoFiles.MaxResultsPerImage, results.Objects.Count);
        Assert.True(results.Objects.Min(o => o.Score) >= 5.0 / n); // the lowest-scoring five left out
        Assert.Contains(results.Problems, p => p.Message.Contains("budget"));
    }
}
