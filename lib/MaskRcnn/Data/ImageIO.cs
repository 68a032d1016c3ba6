using SkiaSharp;
using TorchSharp;
using static TorchSharp.torch;

namespace MaskRcnn.Data;

/// <summary>An image file could not be read; the message names the file.</summary>
public sealed class ImageReadException(string message, Exception? inner = null) : MaskRcnnException(message, inner);

/// <summary>Width and height of an image file, read from its header.</summary>
public readonly record struct ImageSize(int Width, int Height)
{
    public long Pixels => (long)Width * Height;
}

/// <summary>
/// Image files through SkiaSharp (PNG, JPEG, BMP, GIF, WebP): size from the header without decoding,
/// decoding to RGB (grayscale ultrasound expanded to three equal channels), and PNG writing.
/// </summary>
public static class ImageIO
{
    /// <summary>Default pixel limit for decoding (100 megapixels).</summary>
    public const long DefaultMaxPixels = 100_000_000;

    /// <summary>Reads only the header: size and whether the file is an image at all.</summary>
    public static ImageSize ReadSize(string path)
    {
        using var codec = OpenCodec(path);
        return new ImageSize(codec.Info.Width, codec.Info.Height);
    }

    /// <summary>Decodes to RGB bytes, row-major [H, W, 3]. Refuses images over <paramref name="maxPixels"/> before decoding.</summary>
    public static (byte[] Rgb, ImageSize Size) ReadRgb(string path, long maxPixels = DefaultMaxPixels)
    {
        using var codec = OpenCodec(path);
        var size = new ImageSize(codec.Info.Width, codec.Info.Height);
        if (size.Pixels > maxPixels)
            throw new ImageReadException($"{path}: {size.Width}×{size.Height} = {size.Pixels:N0} pixels exceeds the limit of {maxPixels:N0}");
        var info = new SKImageInfo(size.Width, size.Height, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        using var bitmap = new SKBitmap(info);
        var result = codec.GetPixels(info, bitmap.GetPixels());
        if (result is not (SKCodecResult.Success or SKCodecResult.IncompleteInput))
            throw new ImageReadException($"{path}: cannot decode image ({result})");
        if (result == SKCodecResult.IncompleteInput)
            throw new ImageReadException($"{path}: the image data is truncated or corrupt");
        var rgba = bitmap.GetPixelSpan();
        var rgb = new byte[size.Pixels * 3];
        for (long i = 0, j = 0; i < size.Pixels; i++, j += 4)
        {
            rgb[i * 3] = rgba[(int)j];
            rgb[i * 3 + 1] = rgba[(int)j + 1];
            rgb[i * 3 + 2] = rgba[(int)j + 2];
        }
        return (rgb, size);
    }

    /// <summary>The image as a float tensor [3, H, W] with values in [0, 1] (what the model takes).</summary>
    public static Tensor ReadTensor(string path, long maxPixels = DefaultMaxPixels)
    {
        var (rgb, size) = ReadRgb(path, maxPixels);
        return ToTensor(rgb, size);
    }

    /// <summary>RGB bytes [H, W, 3] → float [3, H, W] in [0, 1].</summary>
    public static Tensor ToTensor(byte[] rgb, ImageSize size)
    {
        using var scope = NewDisposeScope();
        var t = tensor(rgb, new long[] { size.Height, size.Width, 3 }, dtype: ScalarType.Byte);
        return (t.permute(2, 0, 1).to(float32) / 255f).contiguous().MoveToOuterDisposeScope();
    }

    /// <summary>Writes RGB bytes [H, W, 3] as PNG.</summary>
    public static void WritePng(string path, byte[] rgb, ImageSize size)
    {
        using var bitmap = new SKBitmap(new SKImageInfo(size.Width, size.Height, SKColorType.Rgba8888, SKAlphaType.Opaque));
        var px = bitmap.GetPixelSpan();
        for (long i = 0; i < size.Pixels; i++)
        {
            px[(int)(i * 4)] = rgb[i * 3];
            px[(int)(i * 4 + 1)] = rgb[i * 3 + 1];
            px[(int)(i * 4 + 2)] = rgb[i * 3 + 2];
            px[(int)(i * 4 + 3)] = 255;
        }
        WritePng(path, bitmap);
    }

    /// <summary>Writes a bitmap as PNG (atomically: temporary file, then rename).</summary>
    public static void WritePng(string path, SKBitmap bitmap)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        using var image = SKImage.FromBitmap(bitmap);
        using var data = image.Encode(SKEncodedImageFormat.Png, 100);
        string tmp = path + ".tmp";
        using (var f = File.Create(tmp)) data.SaveTo(f);
        File.Move(tmp, path, overwrite: true);
    }

    static SKCodec OpenCodec(string path)
    {
        if (!File.Exists(path)) throw new ImageReadException($"image not found: {path}");
        SKCodec? codec;
        try
        {
            codec = SKCodec.Create(path, out var result);
            if (codec is null) throw new ImageReadException($"{path}: not a readable image ({result})");
        }
        catch (ImageReadException) { throw; }
        catch (Exception e) { throw new ImageReadException($"{path}: not a readable image ({e.Message})", e); }
        return codec;
    }
}
