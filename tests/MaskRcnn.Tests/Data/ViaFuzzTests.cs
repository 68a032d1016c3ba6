using System.Text.Json.Nodes;
using MaskRcnn.Data;
using MaskRcnn.Data.Via;

namespace MaskRcnn.Tests.Data;

/// <summary>Mutated VIA files (≥ 1,000 variants) produce only our own typed errors, never another exception.</summary>
public class ViaFuzzTests
{
    static readonly JsonNode?[] Replacements =
    [
        null,
        "",
        "abc",
        "12.5",
        0,
        -1,
        1e308,
        -1e308,
        true,
        new JsonArray(),
        new JsonObject(),
        new JsonArray(null, null),
        new JsonObject { ["name"] = "polygon" },
        new JsonObject { ["name"] = "ellipse", ["cx"] = "x" },
        new JsonArray(1, "2", null),
    ];

    static List<JsonNode> Nodes(JsonNode root)
    {
        var all = new List<JsonNode>();
        void Walk(JsonNode? n)
        {
            if (n is null)
                return;
            all.Add(n);
            if (n is JsonObject o)
                foreach (var kv in o.ToList())
                    Walk(kv.Value);
            if (n is JsonArray a)
                foreach (var x in a.ToList())
                    Walk(x);
        }
        Walk(root);
        return all;
    }

    static void Mutate(JsonNode root, Random rng)
    {
        var nodes = Nodes(root);
        var target = nodes[rng.Next(nodes.Count)];
        var parent = target.Parent;
        if (parent is null)
            return;
        JsonNode? replacement = rng.Next(4) == 0 ? null : Replacements[rng.Next(Replacements.Length)]?.DeepClone();
        bool delete = rng.Next(3) == 0;
        switch (parent)
        {
            case JsonObject o:
                string key = o.First(kv => ReferenceEquals(kv.Value, target)).Key;
                if (delete)
                    o.Remove(key);
                else
                    o[key] = replacement;
                break;
            case JsonArray a:
                int i = a.IndexOf(target);
                if (delete)
                    a.RemoveAt(i);
                else
                    a[i] = replacement;
                break;
        }
    }

    [Fact]
    public void Mutated_files_raise_only_typed_errors()
    {
        var sources = new List<string>
        {
            ViaSamples.Export1,
            ViaSamples.Export2,
            ViaSamples.Project2,
            ViaSamples.Project3,
        };
        sources.AddRange(RealViaTests.Files().Select(File.ReadAllText));
        var rng = new Random(12345);
        int variants = 0,
            loaded = 0,
            refused = 0;
        for (int i = 0; i < 1500; i++)
        {
            string source = sources[i % sources.Count];
            string text;
            if (rng.Next(5) == 0)
            {
                // Byte-level damage: truncation or a flipped character.
                text =
                    rng.Next(2) == 0
                        ? source[..rng.Next(source.Length)]
                        : source
                            .Remove(rng.Next(source.Length), 1)
                            .Insert(rng.Next(source.Length - 1), ((char)rng.Next(32, 127)).ToString());
            }
            else
            {
                var root = JsonNode.Parse(source)!;
                for (int m = rng.Next(1, 4); m > 0; m--)
                    Mutate(root, rng);
                text = root.ToJsonString();
            }
            variants++;
            try
            {
                var doc = ViaReader.Parse(text, $"variant{i}.json");
                var summary = ViaInspection.Summarize(doc);
                Assert.Equal(doc.RegionCount, summary.Regions);
                loaded++;
            }
            catch (MaskRcnnException)
            {
                refused++;
            }
            catch (Exception e)
            {
                Assert.Fail($"variant {i} raised {e}\n{text[..Math.Min(400, text.Length)]}");
            }
        }
        Assert.True(variants >= 1000);
        Assert.True(
            loaded > 100 && refused > 100,
            $"loaded {loaded}, refused {refused}: the mutations should exercise both paths"
        );
    }
}
