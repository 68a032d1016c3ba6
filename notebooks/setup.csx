// Shared first cell of every notebook: `#load "setup.csx"`.
// Loads the library from its build output (run environment/setup.sh first), prepares the native libraries,
// opts into the library's allocator policy as the CLI does, and teaches the notebook to display our figures and charts.
#r "../artifacts/bin/MaskRcnn.Cli/Release/MaskRcnn.Core.dll"
#r "../artifacts/bin/MaskRcnn.Cli/Release/TorchSharp.dll"
#r "../artifacts/bin/MaskRcnn.Cli/Release/SkiaSharp.dll"

using MaskRcnn.Runtime;
using MaskRcnn.Visualization;
using Microsoft.DotNet.Interactive.Formatting;

TorchEnvironment.Initialize();
MemoryRelease.TuneAllocator(); // inference calls and training steps reuse each other's memory (PERFORMANCE.md)
Formatter.Register<Figure>((figure, writer) => writer.Write(figure.ToHtml()), "text/html");
Formatter.Register<ChartHtml>((chart, writer) => writer.Write(chart.Html), "text/html");
Formatter.Register<Table>((table, writer) => writer.Write(table.ToHtml()), "text/html");

/// <summary>True under environment/run-notebooks.sh --quick (CI): notebooks shrink their work.</summary>
static bool Quick => RuntimeOptions.Quick;

/// <summary>The repository root (notebooks run from notebooks/).</summary>
static string Repo => System.IO.Path.GetFullPath("..");
