using MaskRcnn.Data.Phantoms;
using MaskRcnn.Data.Via;

namespace MaskRcnn.Data.Busi;

/// <summary>
/// Writes phantoms in the public BUSI dataset's layout — <c>benign/</c>, <c>malignant/</c>, <c>normal/</c> with
/// <c>benign (1).png</c> and its <c>benign (1)_mask.png</c> — so that the import path can be shown and tested
/// without the real data (which cannot be downloaded here).
/// </summary>
public static class BusiLayout
{
    /// <summary>The three class folders of BUSI.</summary>
    public static readonly string[] Classes = ["benign", "malignant", "normal"];

    /// <summary>
    /// <paramref name="perClass"/> images of each class at <paramref name="size"/> px (phantoms from seeds 0, 1, …;
    /// a phantom with lesions of both classes is skipped, as BUSI files each image under one class). Returns the
    /// number of images written.
    /// </summary>
    public static int Write(string folder, int perClass, int size = 192)
    {
        foreach (var c in Classes)
            Directory.CreateDirectory(Path.Combine(folder, c));
        var counts = Classes.ToDictionary(c => c, _ => 0);
        for (ulong seed = 0; counts.Values.Any(c => c < perClass) && seed < 100_000; seed++)
        {
            var phantom = PhantomGenerator.Generate(size, seed);
            string cls = phantom.ImageClass;
            if (counts[cls] >= perClass || phantom.Lesions.Any(l => l.ClassName != cls))
                continue;
            string stem = Path.Combine(folder, cls, $"{cls} ({++counts[cls]})");
            PhantomDataset.WriteGrayPng(stem + ".png", phantom.Pixels, phantom.Width, phantom.Height);
            var mask = new byte[phantom.Width * phantom.Height];
            foreach (var lesion in phantom.Lesions)
                Rasterizer.Fill(new PolygonShape(lesion.Xs, lesion.Ys), phantom.Width, phantom.Height, mask);
            var white = mask.Select(v => (byte)(v * 255)).ToArray();
            PhantomDataset.WriteGrayPng(stem + "_mask.png", white, phantom.Width, phantom.Height);
        }
        return counts.Values.Sum();
    }

    /// <summary>The mask file BUSI pairs with an image file (<c>benign (3).png</c> → <c>benign (3)_mask.png</c>).</summary>
    public static string MaskFileOf(string imageFile) =>
        Path.GetFileNameWithoutExtension(imageFile) + "_mask" + Path.GetExtension(imageFile);
}
