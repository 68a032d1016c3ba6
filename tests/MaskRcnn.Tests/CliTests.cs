namespace MaskRcnn.Tests;

public class CliTests
{
    [Fact]
    public void Version_names_libtorch_device_and_threads()
    {
        var (code, stdout, stderr) = TestSupport.RunCli("version", "--threads", "1");
        Assert.True(code == 0, stderr);
        Assert.Matches(@"libtorch\s+2\.10\.0", stdout);
        Assert.Matches(@"device\s+cpu", stdout);
        Assert.Matches(@"threads\s+1\b", stdout);
        Assert.Matches(@"TorchSharp\s+0\.107\.0", stdout);
    }

    [Fact]
    public void Help_lists_the_verbs()
    {
        var (code, stdout, _) = TestSupport.RunCli("--help");
        Assert.Equal(0, code);
        Assert.Contains("version", stdout);
    }

    [Fact]
    public void Unavailable_device_is_a_one_line_error()
    {
        var (code, _, stderr) = TestSupport.RunCli("version", "--device", "cuda");
        if (code == 0) return; // a CUDA build on a GPU machine
        Assert.Equal(1, code);
        Assert.StartsWith("error: Device 'cuda'", stderr);
        Assert.DoesNotContain("   at ", stderr);
    }
}
