using MaskRcnn.Modeling.RoiHeads;
using MaskRcnn.Modeling.Rpn;
using static MaskRcnn.Tests.Fixtures;
using static TorchSharp.torch;

namespace MaskRcnn.Tests.Modeling;

/// <summary>
/// The training targets and losses against torchvision 0.14 on fixed inputs (tests/fixtures/losses.pt, made by
/// make_fixtures.py): RPN anchor-target assignment, proposal filtering and losses, fastrcnn_loss, maskrcnn_loss.
/// </summary>
public class LossParityTests
{
    const string F = "losses.pt";

    static RegionProposalNetwork Rpn() =>
        new(
            new AnchorGenerator(
                [
                    [16.0],
                    [32.0],
                    [64.0],
                ],
                [
                    [0.5, 1.0, 2.0],
                    [0.5, 1.0, 2.0],
                    [0.5, 1.0, 2.0],
                ]
            ),
            new RPNHead(4, 3),
            new RpnSettings(
                PreNmsTopNTrain: 60,
                PreNmsTopNTest: 40,
                PostNmsTopNTrain: 30,
                PostNmsTopNTest: 20,
                NmsThresh: 0.7,
                FgIouThresh: 0.7,
                BgIouThresh: 0.3,
                BatchSizePerImage: 256,
                PositiveFraction: 0.5
            )
        );

    [Fact]
    public void Anchor_targets_match_torchvision_with_and_without_ground_truth()
    {
        using var scope = NewDisposeScope();
        var targets = Rpn()
            .AssignTargetsToAnchors(Get(F, "assign.anchors"), [Get(F, "assign.gt0"), Get(F, "assign.gt1")]);
        for (int i = 0; i < 2; i++)
        {
            AssertEqual(Get(F, $"assign.labels{i}"), targets.Labels[i], $"labels {i}");
            AssertClose(Get(F, $"assign.matched{i}"), targets.MatchedGtBoxes[i], 0, $"matched boxes {i}");
        }
        Assert.True(Get(F, "assign.labels0").eq(1).sum().item<long>() > 0); // the case has positives to match
    }

    [Fact]
    public void Proposal_filtering_matches_torchvision()
    {
        using var scope = NewDisposeScope();
        var rpn = Rpn();
        rpn.eval();
        var sizes = Get(F, "filter.image_sizes").ToLongArray();
        var (boxes, scores) = rpn.FilterProposals(
            Get(F, "filter.proposals"),
            Get(F, "filter.objectness"),
            [(sizes[0], sizes[1]), (sizes[2], sizes[3])],
            Get(F, "filter.per_level").ToLongArray()
        );
        for (int i = 0; i < 2; i++)
        {
            AssertClose(Get(F, $"filter.boxes{i}"), boxes[i], 1e-5, $"boxes {i}");
            AssertClose(Get(F, $"filter.scores{i}"), scores[i], 1e-6, $"scores {i}");
        }
    }

    [Fact]
    public void Rpn_losses_match_torchvision()
    {
        using var scope = NewDisposeScope();
        var rpn = Rpn();
        var (objectness, box) = rpn.ComputeLoss(
            Get(F, "rpn_loss.objectness"),
            Get(F, "rpn_loss.deltas"),
            [Get(F, "rpn_loss.labels0"), Get(F, "rpn_loss.labels1")],
            [Get(F, "rpn_loss.targets0"), Get(F, "rpn_loss.targets1")]
        );
        AssertClose(Get(F, "rpn_loss.objectness_loss"), objectness, 1e-5, "loss_objectness");
        AssertClose(Get(F, "rpn_loss.box_loss"), box, 1e-5, "loss_rpn_box_reg");
    }

    [Fact]
    public void Box_head_loss_matches_torchvision()
    {
        using var scope = NewDisposeScope();
        var (classifier, boxReg) = RoIHeads.FastRcnnLoss(
            Get(F, "box_loss.class_logits"),
            Get(F, "box_loss.box_regression"),
            [Get(F, "box_loss.labels0"), Get(F, "box_loss.labels1")],
            [Get(F, "box_loss.targets0"), Get(F, "box_loss.targets1")]
        );
        AssertClose(Get(F, "box_loss.classifier"), classifier, 1e-5, "loss_classifier");
        AssertClose(Get(F, "box_loss.box_reg"), boxReg, 1e-5, "loss_box_reg");
    }

    [Fact]
    public void Mask_loss_matches_torchvision()
    {
        using var scope = NewDisposeScope();
        TargetTensors Target(int i) =>
            new(
                zeros(Get(F, $"mask_loss.labels{i}").shape[0], 4),
                Get(F, $"mask_loss.labels{i}"),
                Get(F, $"mask_loss.masks{i}")
            );
        var (loss, _) = RoIHeads.MaskRcnnLoss(
            Get(F, "mask_loss.logits"),
            [Get(F, "mask_loss.proposals0"), Get(F, "mask_loss.proposals1")],
            [Target(0), Target(1)],
            [Get(F, "mask_loss.matched0"), Get(F, "mask_loss.matched1")]
        );
        AssertClose(Get(F, "mask_loss.loss"), loss, 1e-5, "loss_mask");
    }
}
