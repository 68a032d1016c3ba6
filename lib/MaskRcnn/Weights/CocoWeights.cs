using System.Security.Cryptography;
using MaskRcnn.Runtime;

namespace MaskRcnn.Weights;

/// <summary>
/// torchvision's COCO-trained Mask R-CNN (maskrcnn_resnet50_fpn, 91 classes, box AP 37.9 / mask AP 34.6 on
/// COCO val2017). Found in our cache or torchvision's (TORCH_HOME), else downloaded once with progress and a
/// hash check. Offline, the error says where to put the file.
/// </summary>
public static class CocoWeights
{
    public const string FileName = "maskrcnn_resnet50_fpn_coco-bf2d0c1e.pth";
    public const string Url = "https://download.pytorch.org/models/" + FileName;

    /// <summary>
    /// Leading hex digits of the file's SHA-256. torchvision publishes its checkpoints with this prefix in the
    /// file name and verifies downloads against it (torch.hub's check_hash); we do the same.
    /// </summary>
    public const string Sha256Prefix = "bf2d0c1e";

    /// <summary>~/.cache/maskrcnn/weights (or $MASKRCNN_CACHE/weights, or $XDG_CACHE_HOME/maskrcnn/weights).</summary>
    public static string CacheDir =>
        RuntimeOptions.Cache is { } c
            ? Path.Combine(c, "weights")
            : Path.Combine(
                RuntimeOptions.XdgCacheHome
                    ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache"),
                "maskrcnn",
                "weights"
            );

    /// <summary>Where torchvision keeps the same file (so Python users' downloads are reused).</summary>
    public static string TorchHubPath =>
        Path.Combine(
            RuntimeOptions.TorchHome
                ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache", "torch"),
            "hub",
            "checkpoints",
            FileName
        );

    /// <summary>The COCO weights if they are already on this machine (our cache or torchvision's), else null. Never
    /// downloads.</summary>
    public static string? Find() =>
        new[] { Path.Combine(CacheDir, FileName), TorchHubPath }.FirstOrDefault(File.Exists);

    /// <summary>The local COCO weights, downloading them if needed.</summary>
    public static string Ensure(
        Action<long, long?>? progress = null,
        string? url = null,
        string? sha256Prefix = null,
        string? cacheDir = null
    )
    {
        string target = Path.Combine(cacheDir ?? CacheDir, FileName);
        if (File.Exists(target))
            return target;
        if (cacheDir is null && File.Exists(TorchHubPath))
            return TorchHubPath;
        return Download(url ?? Url, target, sha256Prefix ?? Sha256Prefix, progress);
    }

    /// <summary>Downloads to a temporary file (hashing what it writes), checks the SHA-256 prefix, then renames into
    /// place (<see cref="IO.AtomicFile"/>: concurrent downloads do not share a temporary).</summary>
    public static string Download(string url, string target, string sha256Prefix, Action<long, long?>? progress = null)
    {
        try
        {
            IO.AtomicFile.Write(
                target,
                output =>
                {
                    using var sha256 = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
                    var uri = new Uri(url);
                    if (uri.IsFile)
                        Copy(
                            File.OpenRead(uri.LocalPath),
                            output,
                            sha256,
                            new FileInfo(uri.LocalPath).Length,
                            progress
                        );
                    else
                    {
                        using var http = new HttpClient { Timeout = TimeSpan.FromMinutes(30) };
                        using var response = http.GetAsync(uri, HttpCompletionOption.ResponseHeadersRead)
                            .GetAwaiter()
                            .GetResult();
                        response.EnsureSuccessStatusCode();
                        Copy(
                            response.Content.ReadAsStream(),
                            output,
                            sha256,
                            response.Content.Headers.ContentLength,
                            progress
                        );
                    }
                    // hashed while copying: no second pass
                    string hash = Convert.ToHexString(sha256.GetHashAndReset()).ToLowerInvariant();
                    if (!hash.StartsWith(sha256Prefix, StringComparison.OrdinalIgnoreCase))
                        throw new MaskRcnnException(
                            $"downloaded {url} but its SHA-256 {hash[..16]}… does not start with {sha256Prefix}; the "
                                + "file was discarded"
                        );
                }
            );
            return target;
        }
        catch (Exception e)
            when (e
                    is HttpRequestException
                        or TaskCanceledException
                        or IOException
                        or UriFormatException
                        or UnauthorizedAccessException
            )
        {
            throw new MaskRcnnException(
                $"could not download the COCO weights from {url} ({e.Message}). Offline? Put {FileName} "
                    + $"at {target} (or {TorchHubPath}), or pass --weights FILE, or train from scratch with "
                    + "--weights none.",
                e
            );
        }
    }

    static void Copy(Stream input, Stream output, IncrementalHash hash, long? length, Action<long, long?>? progress)
    {
        using (input)
        {
            var buffer = new byte[1 << 20];
            long done = 0;
            int n;
            while ((n = input.Read(buffer)) > 0)
            {
                output.Write(buffer, 0, n);
                hash.AppendData(buffer, 0, n);
                done += n;
                progress?.Invoke(done, length);
            }
        }
    }
}
