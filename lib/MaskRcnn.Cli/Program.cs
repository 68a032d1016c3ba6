using System.CommandLine;
using MaskRcnn.Cli;
using MaskRcnn.Cli.Verbs;

InterruptSignal.RestoreDefault(); // before .NET's handlers: a background job inherits SIGINT ignored
var root = new RootCommand(
    "maskrcnn: Mask R-CNN (torchvision-compatible, TorchSharp) for detecting and segmenting breast lesions "
        + "in ultrasound images annotated with the VGG Image Annotator."
);
foreach (var verb in Verbs.All())
    root.Subcommands.Add(verb);
if (Verbs.ReportUnknownVerb(root, args) is int unknown)
    return unknown;
var parse = root.Parse(args);
return Verbs.ReportParseErrors(parse) ?? parse.Invoke();
