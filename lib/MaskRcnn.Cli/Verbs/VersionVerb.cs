using System.CommandLine;
using MaskRcnn.Runtime;

namespace MaskRcnn.Cli.Verbs;

/// <summary><c>maskrcnn version [--device D] [--threads T]</c></summary>
static class VersionVerb
{
    public static Command Create()
    {
        var device = new Option<string>("--device")
        {
            Description = "cpu, cuda, cuda:N or auto",
            DefaultValueFactory = _ => "auto",
        };
        var threads = Verbs.ThreadsOption("libtorch intra-op threads (0: libtorch's default)");
        var cmd = new Command(
            "version",
            "Print the library, TorchSharp and libtorch versions, the device and the thread count."
        )
        {
            device,
            threads,
        };
        cmd.SetAction(r =>
            Verbs.Run(() =>
            {
                Verbs.InitializeTorch(r.GetValue(threads));
                var info = TorchEnvironment.Describe(r.GetValue(device));
                Console.WriteLine($"maskrcnn     {info.Library}");
                Console.WriteLine($"TorchSharp   {info.TorchSharp} ({info.Backend} backend)");
                Console.WriteLine($"libtorch     {info.LibTorch}");
                Console.WriteLine($"device       {info.Device}{(info.CudaAvailable ? "" : " (CUDA not available)")}");
                Console.WriteLine($"threads      {info.Threads}");
                Console.WriteLine($"native fix   {info.NativeFix}");
                Console.WriteLine($"oneMKL       {info.MklDispatch}");
                Console.WriteLine($"bf16         {info.BFloat16}");
                Console.WriteLine($".NET         {info.Runtime}");
                Console.WriteLine($"OS           {info.Os}");
                return 0;
            })
        );
        return cmd;
    }
}
