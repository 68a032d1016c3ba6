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
/// decoding to RGB (grayscale ultrasound expanded to three equal channels), and PNG writing. A JPEG's EXIF
/// orientation is applied: sizes and pixels are those of the image as a browser — and so VIA — shows it,
/// which is the frame its annotations were drawn in.
/// </summary>
public static class ImageIO
{
    /// <summary>
    /// The memory budget of an image: at most 4096 × 4096 = 16.8 megapixels are decoded (the side the model's input
    /// may reach, MaskRcnnConfig.MaxImageSide). Training and inference hold an image at full resolution — as a float
    /// tensor, with a mask per lesion, and with a pasted mask per detection — so memory grows with its pixels; what
    /// an image at the limit takes is in README.md ("What the CLI guarantees").
    /// </summary>
    public const long DefaultMaxPixels = 4096L * 4096;

    /// <summary>Reads only the header: size (as shown, EXIF orientation applied) and whether it is an image.</summary>
    public static ImageSize ReadSize(string path)
    {
        using var codec = OpenCodec(path);
        return Shown(codec);
    }

    /// <summary>Decodes to RGB bytes, row-major [H, W, 3]. Refuses images over <paramref name="maxPixels"/> before
    /// decoding.</summary>
    public static (byte[] Rgb, ImageSize Size) ReadRgb(string path, long maxPixels = DefaultMaxPixels)
    {
        using var codec = OpenCodec(path);
        using var bitmap = Decode(codec, path, maxPixels);
        var stored = new ImageSize(bitmap.Width, bitmap.Height);
        var origin = codec.EncodedOrigin;
        var size = Shown(stored, origin);
        var rgba = bitmap.GetPixelSpan();
        var rgb = new byte[size.Pixels * 3];
        if (origin is SKEncodedOrigin.TopLeft or SKEncodedOrigin.Default)
        {
            for (long i = 0, j = 0; i < size.Pixels; i++, j += 4)
            {
                rgb[i * 3] = rgba[(int)j];
                rgb[i * 3 + 1] = rgba[(int)j + 1];
                rgb[i * 3 + 2] = rgba[(int)j + 2];
            }
            return (rgb, size);
        }
        for (int y = 0, i = 0; y < size.Height; y++)
        for (int x = 0; x < size.Width; x++, i += 3)
        {
            var (sx, sy) = StoredPixel(x, y, stored, origin);
            int j = (sy * stored.Width + sx) * 4;
            rgb[i] = rgba[j];
            rgb[i + 1] = rgba[j + 1];
            rgb[i + 2] = rgba[j + 2];
        }
        return (rgb, size);
    }

    /// <summary>
    /// Decodes the whole image and discards it: a truncated or corrupt file fails here (the header alone reads
    /// fine), so a data check can report it instead of training stopping at it mid-epoch. Returns the size as shown.
    /// </summary>
    public static ImageSize Verify(string path, long maxPixels = DefaultMaxPixels)
    {
        using var codec = OpenCodec(path);
        using var bitmap = Decode(codec, path, maxPixels);
        return Shown(codec);
    }

    /// <summary>The stored pixels as RGBA, after the pixel limit and a complete decode are checked.</summary>
    static SKBitmap Decode(SKCodec codec, string path, long maxPixels)
    {
        var stored = new ImageSize(codec.Info.Width, codec.Info.Height);
        if (stored.Pixels > maxPixels)
            throw new ImageReadException(
                $"{path}: {stored.Width}×{stored.Height} = {stored.Pixels:N0} pixels "
                    + $"exceeds the limit of {maxPixels:N0}"
            );
        var info = new SKImageInfo(stored.Width, stored.Height, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        var bitmap = new SKBitmap(info);
        var result = codec.GetPixels(info, bitmap.GetPixels());
        if (result is SKCodecResult.Success)
            return bitmap;
        bitmap.Dispose();
        throw new ImageReadException(
            result == SKCodecResult.IncompleteInput
                ? $"{path}: the image data is truncated or corrupt"
                : $"{path}: cannot decode image ({result})"
        );
    }

    static ImageSize Shown(SKCodec codec) =>
        Shown(new ImageSize(codec.Info.Width, codec.Info.Height), codec.EncodedOrigin);

    /// <summary>EXIF orientations 5–8 turn the image by 90°: width and height swap.</summary>
    static ImageSize Shown(ImageSize stored, SKEncodedOrigin origin) =>
        origin >= SKEncodedOrigin.LeftTop ? new ImageSize(stored.Height, stored.Width) : stored;

    /// <summary>
    /// The stored pixel shown at (x, y) for an EXIF orientation (TIFF tag 274: 1 as stored, 2 mirrored, 3 turned
    /// 180°, 4 flipped, 5 transposed, 6 turned 90° clockwise, 7 transversed, 8 turned 90° anticlockwise).
    /// </summary>
    static (int X, int Y) StoredPixel(int x, int y, ImageSize stored, SKEncodedOrigin origin)
    {
        int w = stored.Width,
            h = stored.Height;
        return origin switch
        {
            SKEncodedOrigin.TopRight => (w - 1 - x, y),
            SKEncodedOrigin.BottomRight => (w - 1 - x, h - 1 - y),
            SKEncodedOrigin.BottomLeft => (x, h - 1 - y),
            SKEncodedOrigin.LeftTop => (y, x),
            SKEncodedOrigin.RightTop => (y, h - 1 - x),
            SKEncodedOrigin.RightBottom => (w - 1 - y, h - 1 - x),
            SKEncodedOrigin.LeftBottom => (w - 1 - y, x),
            _ => (x, y),
        };
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
        using var bitmap = new SKBitmap(
            new SKImageInfo(size.Width, size.Height, SKColorType.Rgba8888, SKAlphaType.Opaque)
        );
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

    /// <summary>Writes a bitmap as PNG (atomically: <see cref="IO.AtomicFile"/>).</summary>
    public static void WritePng(string path, SKBitmap bitmap)
    {
        using var image = SKImage.FromBitmap(bitmap);
        using var data = image.Encode(SKEncodedImageFormat.Png, 100);
        IO.AtomicFile.Write(path, data.SaveTo);
    }

    static SKCodec OpenCodec(string path)
    {
        try
        {
            IO.InputFile.Check(path, "image"); // a FIFO or a device would be read for ever
        }
        catch (MaskRcnnException e)
        {
            throw new ImageReadException(e.Message, e);
        }
        SKCodec? codec;
        try
        {
            codec = SKCodec.Create(path, out var result);
            if (codec is null)
                throw new ImageReadException($"{path}: not a readable image ({result})");
        }
        catch (ImageReadException)
        {
            throw;
        }
        catch (Exception e)
        {
            throw new ImageReadException($"{path}: not a readable image ({e.Message})", e);
        }
        return codec;
    }
}
