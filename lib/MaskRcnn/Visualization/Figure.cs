using SkiaSharp;

namespace MaskRcnn.Visualization;

/// <summary>
/// A rendered picture (PNG bytes) with a caption. In notebooks it displays inline (register it as text/html,
/// as notebooks/setup.csx does); <see cref="Save"/> writes the PNG.
/// </summary>
public sealed class Figure(byte[] png, int width, int height, string caption = "")
{
    public byte[] Png { get; } = png;
    public int Width { get; } = width;
    public int Height { get; } = height;
    public string Caption { get; } = caption;

    public string ToHtml() =>
        $"<figure style=\"margin:4px\"><img src=\"data:image/png;base64,{Convert.ToBase64String(Png)}\" "
        + $"width=\"{Width}\" height=\"{Height}\"/>"
        + (
            Caption.Length > 0
                ? $"<figcaption style=\"font-size:small\">{System.Net.WebUtility.HtmlEncode(Caption)}</figcaption>"
                : ""
        )
        + "</figure>";

    public void Save(string path)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        File.WriteAllBytes(path, Png);
    }

    public SKBitmap ToBitmap() => SKBitmap.Decode(Png);

    public static Figure FromBitmap(SKBitmap bitmap, string caption = "")
    {
        if (bitmap.Width <= 0 || bitmap.Height <= 0)
            throw new ArgumentException(
                $"cannot make a figure of an empty {bitmap.Width}×{bitmap.Height} picture ('{caption}')",
                nameof(bitmap)
            );
        using var image = SKImage.FromBitmap(bitmap);
        using var data = image.Encode(SKEncodedImageFormat.Png, 100);
        return new Figure(data.ToArray(), bitmap.Width, bitmap.Height, caption);
    }

    public override string ToString() => $"Figure {Width}×{Height} {Caption}";
}
