using MaskRcnn.Data.Coco;
using TorchSharp;
using static TorchSharp.torch;

namespace MaskRcnn.Tests.Data;

public class RleTests
{
    [Fact]
    public void Encodes_column_major_runs_starting_with_background()
    {
        // 3×4 mask:      column-major: col0 = 0,1,1  col1 = 0,1,1  col2 = 0,0,0  col3 = 1,1,1
        var mask = tensor(new byte[] { 0, 0, 0, 1, 1, 1, 0, 1, 1, 1, 0, 1 }).view(3, 4);
        var rle = Rle.Encode(mask);
        Assert.Equal(new long[] { 1, 2, 1, 2, 3, 3 }, rle.Counts);
        Assert.Equal(7, rle.Area);
        Assert.True(Rle.Decode(rle).eq(mask.to(@bool)).all().item<bool>());
        var starting = tensor(new byte[] { 1, 0 }).view(2, 1);
        Assert.Equal(new long[] { 0, 1, 1 }, Rle.Encode(starting).Counts);
    }

    [Fact]
    public void Compressed_strings_match_pycocotools()
    {
        // Worked by hand from pycocotools' rleToString: 5 bits per character + 48, bit 0x20 = "more",
        // counts after the second stored as differences to the count two places earlier.
        //   [1, 2, 3, 1]: '1' '2' '3', then 1 − 2 = −1 → 0x1f + 48 = 'O'
        //   [0, 48, 48]:  '0', then 48 = 0b1_10000 → (16 | 0x20) + 48 = '`', 1 + 48 = '1'; the third is not a
        // difference (i = 2)
        Assert.Equal("123O", Rle.ToCompressedString([1, 2, 3, 1]));
        Assert.Equal("0`1`1", Rle.ToCompressedString([0, 48, 48]));
        Assert.Equal(new long[] { 1, 2, 3, 1 }, Rle.FromCompressedString("123O"));
        Assert.Equal(new long[] { 0, 48, 48 }, Rle.FromCompressedString("0`1`1"));
        var counts = new long[] { 5, 100, 3, 1000, 0, 7, 250000, 2 };
        Assert.Equal(counts, Rle.FromCompressedString(Rle.ToCompressedString(counts)));
    }

    [Fact]
    public void Random_masks_round_trip()
    {
        var g = new Generator(1);
        for (int i = 0; i < 20; i++)
        {
            var mask = rand(new long[] { 17 + i, 31 }, generator: g).gt(0.7);
            var rle = Rle.Encode(mask);
            var back = Rle.Decode(
                new RleMask(rle.Height, rle.Width, Rle.FromCompressedString(Rle.ToCompressedString(rle.Counts)))
            );
            Assert.True(back.eq(mask).all().item<bool>());
        }
    }

    [Fact]
    public void Bad_counts_are_rejected()
    {
        Assert.Throws<InvalidDataException>(() => Rle.Decode(new RleMask(2, 2, [1, 1])));
        Assert.Throws<InvalidDataException>(() => Rle.FromCompressedString("1\u00ff"));
    }
}
