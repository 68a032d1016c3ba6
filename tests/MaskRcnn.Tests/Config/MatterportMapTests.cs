using MaskRcnn.Config;

namespace MaskRcnn.Tests.Config;

public class MatterportMapTests
{
    /// <summary>lib/README.md shows the map as a table; it must be exactly what MatterportMap.ToMarkdown
    /// writes.</summary>
    [Fact]
    public void The_readme_table_is_the_map()
    {
        var readme = File.ReadAllLines(Path.Combine(TestSupport.RepoRoot, "lib", "README.md"));
        int start = Array.IndexOf(readme, "| matterport | ours | note |");
        Assert.True(start >= 0, "lib/README.md has no matterport table");
        var table = readme.Skip(start).TakeWhile(l => l.StartsWith('|'));
        Assert.Equal(MatterportMap.ToMarkdown().Split('\n'), table);
    }
}
