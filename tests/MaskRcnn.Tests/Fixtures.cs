using System.Collections;
using System.Collections.Concurrent;
using TorchSharp;
using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace MaskRcnn.Tests;

/// <summary>The committed reference fixtures (tests/fixtures/*.pt, made by make_fixtures.py from torchvision
/// 0.14).</summary>
static class Fixtures
{
    static readonly ConcurrentDictionary<string, IReadOnlyDictionary<string, Tensor>> Cache = new();

    public static string Dir => Path.Combine(TestSupport.RepoRoot, "tests", "fixtures");

    public static IReadOnlyDictionary<string, Tensor> Load(string file) =>
        Cache.GetOrAdd(file, f => LoadFrom(Path.Combine(Dir, f)));

    /// <summary>A torch.save'd dict of tensors, from any path (not cached).</summary>
    public static Dictionary<string, Tensor> LoadFrom(string path)
    {
        Hashtable table = PyTorchUnpickler.UnpickleStateDict(path);
        var dict = new Dictionary<string, Tensor>();
        foreach (DictionaryEntry e in table)
            dict[(string)e.Key] = ((Tensor)e.Value!).DetachFromDisposeScope();
        return dict;
    }

    public static Tensor Get(string file, string key) =>
        Load(file).TryGetValue(key, out var t) ? t : throw new KeyNotFoundException($"{file} has no '{key}'");

    public static void AssertClose(Tensor expected, Tensor actual, double atol, string what = "")
    {
        Assert.Equal(expected.shape, actual.shape);
        if (expected.numel() == 0)
            return;
        double diff = (expected.to(float64) - actual.to(float64)).abs().max().item<double>();
        Assert.True(diff <= atol, $"{what}: max |difference| {diff:E3} > {atol:E1}");
    }

    public static void AssertEqual(Tensor expected, Tensor actual, string what = "")
    {
        Assert.Equal(expected.shape, actual.shape);
        Assert.True(expected.to(float64).eq(actual.to(float64)).all().item<bool>(), $"{what}: tensors differ");
    }
}
