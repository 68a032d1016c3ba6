using System.Diagnostics;
using System.IO.Compression;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using MaskRcnn.Config;
using MaskRcnn.Data;
using MaskRcnn.Data.Phantoms;
using MaskRcnn.Modeling;
using MaskRcnn.Weights;
using SkiaSharp;
using static TorchSharp.torch;

namespace MaskRcnn.Tests.Reliability;

/// <summary>
/// Fixtures for the reliability tests (issue 23), all made by the tests themselves in temporary folders: a tiny
/// phantom data folder (64 px), a small configuration that trains a step in about a second, a random model's
/// checkpoint, and the bad inputs (thin, truncated, unreadable, EXIF-rotated images; malicious pickles).
/// </summary>
static class ReliabilityData
{
    /// <summary>The tests' small model at 64 px, one step: a training step or a prediction takes well under a second
    /// on 2 cores.</summary>
    public static MaskRcnnConfig SmallConfig() => TinyTraining.Config(side: 64, warmup: 1);

    /// <summary>DIR/data with train/, val/, test/ of 64-px phantoms; returns the data folder.</summary>
    public static string DataFolder(TestSupport.TempDir tmp, int train = 3, int val = 0, int test = 3)
    {
        string dir = tmp["data"];
        PhantomDataset.Write(dir, 23, train, val, test, 64);
        return dir;
    }

    /// <summary>The small configuration as a JSON file for <c>train --config</c>.</summary>
    public static string ConfigFile(TestSupport.TempDir tmp)
    {
        string path = tmp["small.json"];
        File.WriteAllText(path, SmallConfig().ToJson());
        return path;
    }

    /// <summary>A checkpoint of the small model, randomly initialised (seeded).</summary>
    public static string RandomWeights(TestSupport.TempDir tmp, Action<MaskRCNN>? change = null)
    {
        string path = tmp[$"weights-{Guid.NewGuid():N}.safetensors"];
        manual_seed(5);
        using var model = new MaskRCNN(SmallConfig());
        change?.Invoke(model);
        Checkpoint.Save(path, model);
        return path;
    }

    /// <summary>train arguments for the small model on a data folder, one step.</summary>
    public static string[] TrainArgs(string data, string config, string run, params string[] extra) =>
        ["train", "--data", data, "--config", config, "--threads", "1", "--out", run, .. extra];

    public static string ViaPath(string data, string split) => Path.Combine(data, split, DatasetLoader.AnnotationFile);

    public static JsonObject ReadVia(string data, string split) =>
        JsonNode.Parse(File.ReadAllText(ViaPath(data, split)))!.AsObject();

    public static void WriteVia(string data, string split, JsonObject via) =>
        File.WriteAllText(ViaPath(data, split), via.ToJsonString());

    /// <summary>A VIA 2.x entry with rectangles (x, y, w, h) of class <paramref name="label"/>.</summary>
    public static JsonObject Entry(
        string fileName,
        string label = "benign",
        params (int X, int Y, int W, int H)[] rects
    )
    {
        var regions = new JsonArray();
        foreach (var (x, y, w, h) in rects)
            regions.Add(
                new JsonObject
                {
                    ["shape_attributes"] = new JsonObject
                    {
                        ["name"] = "rect",
                        ["x"] = x,
                        ["y"] = y,
                        ["width"] = w,
                        ["height"] = h,
                    },
                    ["region_attributes"] = new JsonObject { ["class"] = label },
                }
            );
        return new JsonObject
        {
            ["filename"] = fileName,
            ["size"] = -1,
            ["regions"] = regions,
            ["file_attributes"] = new JsonObject(),
        };
    }

    /// <summary>A gray PNG of any size (a 100000×1 strip included).</summary>
    public static void GrayPng(string path, int width, int height, byte value = 128)
    {
        using var bitmap = new SKBitmap(new SKImageInfo(width, height, SKColorType.Gray8, SKAlphaType.Opaque));
        bitmap.GetPixelSpan().Fill(value);
        ImageIO.WritePng(path, bitmap);
    }

    /// <summary>Cuts a file to <paramref name="fraction"/> of its length (a copy that stopped early).</summary>
    public static void Truncate(string path, double fraction = 0.6)
    {
        byte[] bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..(int)(bytes.Length * fraction)]);
    }

    /// <summary>
    /// A PNG header claiming <paramref name="width"/>×<paramref name="height"/> followed by no image data: what a
    /// header-only check sees of a huge image, without writing one.
    /// </summary>
    public static void PngHeader(string path, int width, int height)
    {
        var ihdr = new byte[13];
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(ihdr, width);
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(ihdr.AsSpan(4), height);
        ihdr[8] = 8;
        ihdr[9] = 0; // 8-bit grayscale
        using var f = File.Create(path);
        f.Write([0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A]);
        WriteChunk(f, "IHDR", ihdr);
        WriteChunk(f, "IDAT", [0x78, 0x9C]); // a zlib stream that stops at once
        WriteChunk(f, "IEND", []);
    }

    static void WriteChunk(Stream s, string type, byte[] data)
    {
        Span<byte> len = stackalloc byte[4];
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(len, data.Length);
        s.Write(len);
        byte[] typed = [.. Encoding.ASCII.GetBytes(type), .. data];
        s.Write(typed);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(len, Crc32(typed));
        s.Write(len);
    }

    static uint Crc32(byte[] data)
    {
        uint crc = 0xFFFFFFFF;
        foreach (byte b in data)
        {
            crc ^= b;
            for (int k = 0; k < 8; k++)
                crc = (crc & 1) != 0 ? 0xEDB88320 ^ (crc >> 1) : crc >> 1;
        }
        return ~crc;
    }

    /// <summary>
    /// A JPEG stored <paramref name="width"/>×<paramref name="height"/>, white where x &lt; width / 2 and black
    /// elsewhere, with an EXIF APP1 segment giving <paramref name="orientation"/> (6: shown rotated 90° clockwise).
    /// </summary>
    public static void JpegWithOrientation(string path, int width, int height, ushort orientation)
    {
        using var bitmap = new SKBitmap(new SKImageInfo(width, height, SKColorType.Gray8, SKAlphaType.Opaque));
        var px = bitmap.GetPixelSpan();
        for (int y = 0; y < height; y++)
        for (int x = 0; x < width; x++)
            px[y * width + x] = x < width / 2 ? (byte)255 : (byte)0;
        using var image = SKImage.FromBitmap(bitmap);
        using var data = image.Encode(SKEncodedImageFormat.Jpeg, 95);
        byte[] jpeg = data.ToArray();
        // APP1 "Exif\0\0", little-endian TIFF header, one IFD entry: Orientation (0x0112), SHORT, 1 value.
        byte[] exif =
        [
            0xFF,
            0xE1,
            0x00,
            0x22,
            (byte)'E',
            (byte)'x',
            (byte)'i',
            (byte)'f',
            0,
            0,
            (byte)'I',
            (byte)'I',
            0x2A,
            0x00,
            0x08,
            0x00,
            0x00,
            0x00,
            0x01,
            0x00,
            0x12,
            0x01,
            0x03,
            0x00,
            0x01,
            0x00,
            0x00,
            0x00,
            (byte)orientation,
            0x00,
            0x00,
            0x00,
            0x00,
            0x00,
            0x00,
            0x00,
        ];
        File.WriteAllBytes(path, [.. jpeg[..2], .. exif, .. jpeg[2..]]);
    }

    /// <summary>
    /// Python's pickle of an object whose __reduce__ calls os.system (protocol 2), as torch.save would put it in
    /// a zip archive (<paramref name="zip"/>) or as a bare pickle file.
    /// </summary>
    public static void MaliciousPickle(string path, bool zip)
    {
        // PROTO 2, GLOBAL posix.system, BINPUT, BINUNICODE "echo PWNED", BINPUT, TUPLE1, BINPUT, REDUCE, BINPUT, STOP
        byte[] pickle =
        [
            0x80,
            0x02,
            .. "cposix\nsystem\n"u8,
            (byte)'q',
            0,
            (byte)'X',
            10,
            0,
            0,
            0,
            .. "echo PWNED"u8,
            (byte)'q',
            1,
            0x85,
            (byte)'q',
            2,
            (byte)'R',
            (byte)'q',
            3,
            (byte)'.',
        ];
        if (!zip)
        {
            File.WriteAllBytes(path, pickle);
            return;
        }
        using var archive = ZipFile.Open(path, ZipArchiveMode.Create);
        using (var s = archive.CreateEntry("archive/data.pkl").Open())
            s.Write(pickle);
        using (var s = archive.CreateEntry("archive/version").Open())
            s.Write("3\n"u8);
    }

    /// <summary>Lines of stderr that are not empty.</summary>
    public static string[] Lines(string text) =>
        text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    /// <summary>No .NET or libtorch stack trace in the output.</summary>
    public static void NoTrace(string stderr)
    {
        Assert.DoesNotContain("   at ", stderr);
        Assert.DoesNotContain("Unhandled exception", stderr);
        Assert.DoesNotContain("frame #", stderr);
    }

    /// <summary>The rows of a metrics.jsonl, parsed.</summary>
    public static List<JsonElement> Metrics(string run) =>
        File.ReadLines(Path.Combine(run, "metrics.jsonl"))
            .Select(l => JsonDocument.Parse(l).RootElement.Clone())
            .ToList();

    [DllImport("libc", SetLastError = true)]
    static extern int kill(int pid, int sig);

    [DllImport("libc", SetLastError = true)]
    static extern int mkfifo(string path, uint mode);

    /// <summary>A FIFO (named pipe) at <paramref name="path"/>: opening it to read waits for a writer, for ever.</summary>
    public static void Fifo(string path) => Assert.Equal(0, mkfifo(path, 0x1B6)); // 0666

    /// <summary>
    /// A refusal as the CLI promises it: exit 1, exactly one line on stderr, starting "error:" and holding every one of
    /// <paramref name="names"/>, and no stack trace.
    /// </summary>
    public static void AssertOneError((int Code, string Out, string Err) run, params string[] names)
    {
        Assert.True(run.Code == 1, $"exit {run.Code}\n{run.Out}\n{run.Err}");
        var lines = Lines(run.Err);
        Assert.True(lines.Length == 1, $"{lines.Length} lines on stderr:\n{run.Err}");
        Assert.StartsWith("error:", lines[0]);
        foreach (var name in names)
            Assert.Contains(name, lines[0]);
        NoTrace(run.Err);
    }

    /// <summary>A small configuration file with changes, for train --config.</summary>
    public static string ConfigFile(TestSupport.TempDir tmp, Func<MaskRcnnConfig, MaskRcnnConfig> change)
    {
        string path = tmp[$"config-{Guid.NewGuid():N}.json"];
        File.WriteAllText(path, change(SmallConfig()).ToJson());
        return path;
    }

    public const int SIGINT = 2,
        SIGTERM = 15;

    /// <summary>
    /// Starts the CLI, sends <paramref name="signal"/> once a stdout line contains <paramref name="when"/>, and
    /// returns the exit code and both outputs. <paramref name="interruptIgnored"/>: started as a background job of a
    /// non-interactive shell starts it, with SIGINT ignored. A CLI that has not exited a minute after the signal is
    /// killed and the test fails saying so (with the signals it ignored), instead of waiting for a run without end.
    /// </summary>
    public static (int Code, string Out, string Err) RunCliAndSignal(
        string when,
        int signal,
        string[] args,
        bool interruptIgnored = false
    )
    {
        var psi = new ProcessStartInfo(interruptIgnored ? "/bin/sh" : "dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        if (interruptIgnored)
            foreach (var a in new[] { "-c", "trap '' INT; exec \"$0\" \"$@\"", "dotnet" })
                psi.ArgumentList.Add(a);
        psi.ArgumentList.Add(TestSupport.CliDll);
        foreach (var a in args)
            psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = new StringBuilder();
        var stderr = p.StandardError.ReadToEndAsync();
        var sent = new TaskCompletionSource();
        var reading = Task.Run(() =>
        {
            while (p.StandardOutput.ReadLine() is string line)
            {
                lock (stdout)
                    stdout.AppendLine(line);
                if (!sent.Task.IsCompleted && line.Contains(when))
                {
                    kill(p.Id, signal);
                    sent.TrySetResult();
                }
            }
        });
        Task.WaitAny([sent.Task, reading], TimeSpan.FromMinutes(5));
        string Output()
        {
            lock (stdout)
                return stdout.ToString();
        }
        if (!p.WaitForExit(TimeSpan.FromMinutes(1)))
        {
            string ignored = File.ReadLines($"/proc/{p.Id}/status").FirstOrDefault(l => l.StartsWith("SigIgn")) ?? "";
            p.Kill(true);
            Assert.Fail(
                $"maskrcnn {string.Join(' ', args)} still ran a minute after "
                    + (sent.Task.IsCompleted ? $"signal {signal}" : $"'{when}' was expected")
                    + $" ({ignored.Trim()}):\n{Output()}"
            );
        }
        reading.Wait();
        Assert.True(sent.Task.IsCompleted, $"'{when}' never appeared:\n{Output()}\n{stderr.Result}");
        return (p.ExitCode, Output(), stderr.Result);
    }
}
