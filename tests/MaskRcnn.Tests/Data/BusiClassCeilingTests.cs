using MaskRcnn.Data.Phantoms;

namespace MaskRcnn.Tests.Data;

public class BusiClassCeilingTests
{
    [Fact]
    public void The_fitted_classifier_reaches_the_exact_bayes_accuracy_of_single_features()
    {
        // Exact values from the generator's stated class-conditional probabilities (BusiPhantomGenerator.LesionLook;
        // benign share 0.45): with the prior alone, always "malignant" (0.55); with the echo pattern, the better class
        // per pattern: hypo max(.45·.55, .55·.70) + iso max(.45·.25, .55·.15) + anechoic .45·.10 + partly hyper
        // max(.45·.10, .55·.15) = .385 + .1125 + .045 + .0825 = 0.625.
        var prior = BusiClassCeiling.Run(BusiClassCeiling.Features.None, 20_000);
        var echo = BusiClassCeiling.Run(BusiClassCeiling.Features.Echo, 20_000);
        Assert.InRange(prior.LesionAccuracy, 0.54, 0.56);
        Assert.InRange(echo.LesionAccuracy, 0.615, 0.635);
        // Posterior factor (benign: enhancement U(1.1, 1.5) .45, none .35, shadowing U(0.5, 0.8) .2; malignant:
        // shadowing U(0.4, 0.8) .5, none .3, enhancement U(1.1, 1.4) .2), the better class on each piece:
        // [1.1, 1.4] .45·.45·.75 = .151875, [1.4, 1.5] .45·.45·.25 = .050625, none .55·.3 = .165,
        // [0.4, 0.5] .55·.5·.25 = .06875, [0.5, 0.8] .55·.5·.75 = .20625; sum 0.6425.
        var posterior = BusiClassCeiling.Run(BusiClassCeiling.Features.Posterior, 20_000);
        Assert.InRange(posterior.LesionAccuracy, 0.632, 0.653);
    }

    [Fact]
    public void More_features_never_lower_the_ceiling_and_two_lesions_help_the_image()
    {
        var shape = BusiClassCeiling.Run(BusiClassCeiling.Features.Shape, 20_000);
        var all = BusiClassCeiling.Run(BusiClassCeiling.Features.All, 20_000);
        Assert.True(all.LesionAccuracy > shape.LesionAccuracy + 0.1);
        // Exact for all four features (the densities integrated piecewise): 0.9315.
        Assert.InRange(all.LesionAccuracy, 0.92, 0.945);
        Assert.True(all.LesionImageAccuracy >= all.LesionAccuracy - 0.01);
        // Normal images are recognised from the latents: the three-class ceiling adds them.
        Assert.Equal(
            BusiPhantomGenerator.NormalShare + (1 - BusiPhantomGenerator.NormalShare) * all.LesionImageAccuracy,
            all.ImageAccuracy,
            9
        );
        Assert.Equal("all (shape, aspect, echo, posterior)", all.Describe());
        Assert.Equal("shape", shape.Describe());
        Assert.Equal(all, BusiClassCeiling.Run(BusiClassCeiling.Features.All, 20_000));
    }

    [Fact]
    public void Generating_with_latents_gives_the_same_phantom_and_a_look_per_lesion()
    {
        for (ulong seed = 1; seed <= 6; seed++)
        {
            var plain = BusiPhantomGenerator.Generate(seed);
            var (phantom, looks, calipers) = BusiPhantomGenerator.GenerateWithLatents(seed);
            Assert.Equal(plain.Pixels, phantom.Pixels);
            Assert.Equal(plain.Lesions.Count, looks.Count);
            for (int i = 0; i < looks.Count; i++)
                Assert.Equal(phantom.Lesions[i].ClassName == "benign", looks[i].Benign);
            if (phantom.Lesions.Count == 0)
                Assert.False(calipers);
        }
    }
}
