namespace MaskRcnn.Data.Phantoms;

/// <summary>
/// How well any classifier could tell benign from malignant on the BUSI-like phantoms if it saw the features the
/// generator draws for each lesion (<see cref="BusiPhantomGenerator.LesionLook"/>: shape, aspect, echo pattern,
/// posterior factor) perfectly — an upper bound for a model that must read them from speckled pixels.
/// <para>
/// Method: many lesions are drawn with the generator's own <see cref="BusiPhantomGenerator.LesionLook.Draw"/> and its
/// class shares; a naive Bayes classifier is fitted on one half and scored on the other. Given the class, the
/// generator draws shape-with-aspect, echo pattern and posterior factor independently, and each is uniform between
/// break points on a 0.05 grid (aspect 0.65 / 0.9 / 1.0 / 1.1 / 1.2 / 1.4 / 2.0; posterior 0.4 / 0.5 / 0.8 / 1.0 /
/// 1.1 / 1.4 / 1.5), so a histogram with 0.05-wide bins over (shape, aspect), echo and posterior is the Bayes-optimal
/// classifier: with enough draws its held-out accuracy estimates the ceiling itself, not a fitted model's.
/// </para>
/// <para>
/// Image level: an image holds lesions of one class (one, or two with <see cref="BusiPhantomGenerator.TwoLesionShare"/>
/// of all images), so its evidence is the sum of its lesions' log-likelihood ratios; normal images (no lesion) are
/// known from the latents, which gives the normal / benign / malignant ceiling with a perfect detector.
/// </para>
/// Not counted: the lesion's echo level and heterogeneity and the rim's blur, drawn later in the generator, differ by
/// class too (heterogeneity is U(0, 0.25) for benign and U(0.25, 0.6) for malignant lesions, disjoint): with those
/// the latents separate the classes perfectly, so the bound here is for the BI-RADS features the issue names, the ones
/// a reader of the image would use.
/// </summary>
public static class BusiClassCeiling
{
    /// <summary>Which drawn features the classifier may use.</summary>
    [Flags]
    public enum Features
    {
        None = 0,

        /// <summary>Oval, irregular, or irregular and spiculated.</summary>
        Shape = 1,

        /// <summary>Width / height as drawn (orientation: wider than tall or not).</summary>
        Aspect = 2,

        /// <summary>Hypoechoic, isoechoic, anechoic, partly hyperechoic.</summary>
        Echo = 4,

        /// <summary>Enhancement, none, shadowing, and how strong.</summary>
        Posterior = 8,
        All = Shape | Aspect | Echo | Posterior,
    }

    /// <summary>
    /// Held-out numbers with <paramref name="Features"/>. Accuracy, the best any classifier reaches: per lesion
    /// (benign vs malignant), per lesion image (from all its lesions) and per image over all images (normal / benign /
    /// malignant, normals recognised). At the clinical threshold, what a model reaches whose scores are these
    /// posteriors (calibrated) and whose outlines are perfect: <paramref name="ConfidentShare"/>, the share of lesions
    /// with a class posterior ≥ the threshold (its sensitivity there: a lesion scored below it is not found), and
    /// <paramref name="ImageAccuracyAtThreshold"/>, the image accuracy when an image is called as the evaluation calls
    /// it (normal without a detection at the threshold, else the most severe class detected). <paramref name="Ap50"/>:
    /// segm AP50 of that model (each lesion detected once per class, scored by the class posterior; mean of the two
    /// classes' APs, COCO's 101-point interpolation). <paramref name="StandardError"/>: the lesion accuracy's binomial
    /// standard error.
    /// </summary>
    public sealed record Estimate(
        Features Features,
        double LesionAccuracy,
        double LesionImageAccuracy,
        double ImageAccuracy,
        double Threshold,
        double ConfidentShare,
        double ImageAccuracyAtThreshold,
        double Ap50,
        int FitLesions,
        int TestLesions,
        double StandardError
    )
    {
        /// <summary>"shape + aspect", "all", "class prior only".</summary>
        public string Describe() =>
            Features == Features.None ? "class prior only"
            : Features == Features.All ? "all (shape, aspect, echo, posterior)"
            : string.Join(
                " + ",
                new[] { Features.Shape, Features.Aspect, Features.Echo, Features.Posterior }
                    .Where(f => Features.HasFlag(f))
                    .Select(f => f.ToString().ToLowerInvariant())
            );
    }

    /// <summary>Fits on <paramref name="lesions"/> drawn lesions and scores on as many fresh ones (and on as many
    /// lesion images drawn alike); the same arguments give the same numbers.</summary>
    public static Estimate Run(Features features, int lesions = 200_000, ulong seed = 1, double threshold = 0.9)
    {
        if (lesions < 100)
            throw new ArgumentOutOfRangeException(nameof(lesions), lesions, "need at least 100 lesions");
        var model = new NaiveBayes(features);
        var fit = new SplitMix(SplitMix.Derive(seed, 1));
        for (int i = 0; i < lesions; i++)
            model.Add(DrawLesion(fit, fit.NextDouble() < BusiPhantomGenerator.BenignShare));

        var test = new SplitMix(SplitMix.Derive(seed, 2));
        var truth = new bool[lesions];
        var benignPosterior = new double[lesions];
        int correct = 0,
            confident = 0;
        for (int i = 0; i < lesions; i++)
        {
            truth[i] = test.NextDouble() < BusiPhantomGenerator.BenignShare;
            benignPosterior[i] = Posterior(model.LogOdds([DrawLesion(test, truth[i])]));
            if (benignPosterior[i] > 0.5 == truth[i])
                correct++;
            if (Math.Max(benignPosterior[i], 1 - benignPosterior[i]) >= threshold)
                confident++;
        }
        double lesionAccuracy = (double)correct / lesions;
        double ap50 =
            (
                AveragePrecision(benignPosterior, truth)
                + AveragePrecision(benignPosterior.Select(p => 1 - p).ToArray(), truth.Select(b => !b).ToArray())
            ) / 2;

        // Lesion images: one class per image, one lesion or (TwoLesionShare of all images) two.
        var images = new SplitMix(SplitMix.Derive(seed, 3));
        double twoGivenLesions = BusiPhantomGenerator.TwoLesionShare / (1 - BusiPhantomGenerator.NormalShare);
        int imageCorrect = 0,
            imageCorrectAtThreshold = 0;
        for (int i = 0; i < lesions; i++)
        {
            bool benign = images.NextDouble() < BusiPhantomGenerator.BenignShare;
            int count = images.NextDouble() < twoGivenLesions ? 2 : 1;
            var looks = Enumerable.Range(0, count).Select(_ => DrawLesion(images, benign)).ToArray();
            if (model.LogOdds(looks) > 0 == benign)
                imageCorrect++;
            // At the threshold each lesion is scored alone, as a detector scores it.
            var posteriors = looks.Select(l => Posterior(model.LogOdds([l]))).ToArray();
            bool anyMalignant = posteriors.Any(p => 1 - p >= threshold),
                anyBenign = posteriors.Any(p => p >= threshold);
            if (benign ? anyBenign && !anyMalignant : anyMalignant)
                imageCorrectAtThreshold++;
        }
        double imageAccuracy = (double)imageCorrect / lesions;
        double lesionImages = 1 - BusiPhantomGenerator.NormalShare;
        return new Estimate(
            features,
            lesionAccuracy,
            imageAccuracy,
            BusiPhantomGenerator.NormalShare + lesionImages * imageAccuracy,
            threshold,
            (double)confident / lesions,
            BusiPhantomGenerator.NormalShare + lesionImages * imageCorrectAtThreshold / lesions,
            ap50,
            lesions,
            lesions,
            Math.Sqrt(lesionAccuracy * (1 - lesionAccuracy) / lesions)
        );
    }

    static BusiPhantomGenerator.LesionLook DrawLesion(SplitMix rng, bool benign) =>
        BusiPhantomGenerator.LesionLook.Draw(rng, benign ? "benign" : "malignant");

    static double Posterior(double logOdds) => 1 / (1 + Math.Exp(-logOdds));

    /// <summary>AP of one class: every lesion a detection scored <paramref name="scores"/>, the positives those of
    /// the class; precision made monotone and read at 101 recall points, as COCO's evaluation does.</summary>
    static double AveragePrecision(double[] scores, bool[] positive)
    {
        var order = Enumerable.Range(0, scores.Length).OrderByDescending(i => scores[i]).ToArray();
        int positives = positive.Count(p => p);
        if (positives == 0)
            return double.NaN;
        var precision = new double[order.Length];
        var recall = new double[order.Length];
        int tp = 0;
        for (int k = 0; k < order.Length; k++)
        {
            if (positive[order[k]])
                tp++;
            precision[k] = (double)tp / (k + 1);
            recall[k] = (double)tp / positives;
        }
        for (int k = order.Length - 2; k >= 0; k--)
            precision[k] = Math.Max(precision[k], precision[k + 1]);
        double sum = 0;
        int at = 0;
        for (int r = 0; r <= 100; r++)
        {
            while (at < order.Length && recall[at] < r / 100.0)
                at++;
            sum += at < order.Length ? precision[at] : 0;
        }
        return sum / 101;
    }

    /// <summary>The feature sets worth comparing: the prior, each feature alone, shape with aspect, what a
    /// box-warped region keeps (shape and echo), and all.</summary>
    public static readonly Features[] Standard =
    [
        Features.None,
        Features.Shape,
        Features.Aspect,
        Features.Echo,
        Features.Posterior,
        Features.Shape | Features.Aspect,
        Features.Shape | Features.Echo,
        Features.Shape | Features.Echo | Features.Posterior,
        Features.All,
    ];

    /// <summary>Histogram naive Bayes over (shape, aspect bin), echo and posterior bin, add-one smoothed.</summary>
    sealed class NaiveBayes(Features features)
    {
        const double Bin = 0.05;
        readonly Dictionary<int, int>[][] _counts =
        [
            [
                [],
                [],
                [],
            ],
            [
                [],
                [],
                [],
            ],
        ];
        readonly int[] _lesions = new int[2];

        public void Add(BusiPhantomGenerator.LesionLook look)
        {
            int c = look.Benign ? 0 : 1;
            _lesions[c]++;
            var keys = Keys(look);
            for (int f = 0; f < keys.Length; f++)
                _counts[c][f][keys[f]] = _counts[c][f].GetValueOrDefault(keys[f]) + 1;
        }

        /// <summary>log P(benign, looks) − log P(malignant, looks), the looks being one image's (one class).</summary>
        public double LogOdds(IReadOnlyList<BusiPhantomGenerator.LesionLook> looks)
        {
            double odds = Math.Log((_lesions[0] + 1.0) / (_lesions[1] + 1.0));
            foreach (var look in looks)
            {
                var keys = Keys(look);
                for (int f = 0; f < keys.Length; f++)
                {
                    int distinct = _counts[0][f].Keys.Union(_counts[1][f].Keys).Count() + 1;
                    double benign = (_counts[0][f].GetValueOrDefault(keys[f]) + 1.0) / (_lesions[0] + distinct);
                    double malignant = (_counts[1][f].GetValueOrDefault(keys[f]) + 1.0) / (_lesions[1] + distinct);
                    odds += Math.Log(benign / malignant);
                }
            }
            return odds;
        }

        /// <summary>One key per factor; a factor not in <c>features</c> has the same key for every lesion.</summary>
        int[] Keys(BusiPhantomGenerator.LesionLook look)
        {
            int shape =
                !features.HasFlag(Features.Shape) ? 0
                : look.Oval ? 1
                : look.Spiculated ? 3
                : 2;
            int aspect = features.HasFlag(Features.Aspect) ? (int)Math.Floor(look.Aspect / Bin) : 0;
            int echo = features.HasFlag(Features.Echo)
                ? look.Echo switch
                {
                    "hypo" => 1,
                    "iso" => 2,
                    "anechoic" => 3,
                    _ => 4,
                }
                : 0;
            int posterior = features.HasFlag(Features.Posterior) ? (int)Math.Floor(look.PosteriorFactor / Bin) : 0;
            return [shape * 1000 + aspect, echo, posterior];
        }
    }
}
