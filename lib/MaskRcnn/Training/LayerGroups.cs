using System.Text.RegularExpressions;
using MaskRcnn.Modeling;

namespace MaskRcnn.Training;

/// <summary>
/// matterport's trainable layer groups, on torchvision's parameter names. ResNet stages 2–5 (matterport's
/// res2–res5) are torchvision's layer1–layer4:
/// <list type="table">
/// <item><term>heads</term><description>FPN, RPN and RoI heads only (backbone.fpn, rpn, roi_heads)</description></item>
/// <item><term>3+</term><description>heads + layer2, layer3, layer4</description></item>
/// <item><term>4+</term><description>heads + layer3, layer4</description></item>
/// <item><term>5+</term><description>heads + layer4</description></item>
/// <item><term>all</term><description>every layer, including conv1/bn1 and layer1</description></item>
/// </list>
/// Frozen BatchNorm layers stay frozen in every group (they have no trainable parameters).
/// </summary>
public static class LayerGroups
{
    public static readonly string[] Names = ["heads", "3+", "4+", "5+", "all"];

    static readonly Dictionary<string, Regex> Patterns = new()
    {
        ["heads"] = new(@"^(backbone\.fpn|rpn|roi_heads)\."),
        ["3+"] = new(@"^(backbone\.body\.layer[234]|backbone\.fpn|rpn|roi_heads)\."),
        ["4+"] = new(@"^(backbone\.body\.layer[34]|backbone\.fpn|rpn|roi_heads)\."),
        ["5+"] = new(@"^(backbone\.body\.layer4|backbone\.fpn|rpn|roi_heads)\."),
        ["all"] = new(@".*"),
    };

    public static bool IsKnown(string group) => Patterns.ContainsKey(group);

    /// <summary>What a group trains, in words (matterport's stage names in parentheses).</summary>
    public static string Describe(string group) =>
        group switch
        {
            "heads" => "FPN, RPN, box and mask heads; the backbone frozen",
            "3+" => "heads + layer2–layer4 (res3–res5)",
            "4+" => "heads + layer3–layer4 (res4–res5)",
            "5+" => "heads + layer4 (res5)",
            "all" => "every layer, conv1 and layer1 included",
            _ => throw new MaskRcnnException($"unknown layer group '{group}' (use {string.Join(", ", Names)})"),
        };

    /// <summary>Sets requires_grad by the group; returns the number of trainable parameters (elements).</summary>
    public static long Apply(MaskRCNN model, string group)
    {
        if (!Patterns.TryGetValue(group, out var pattern))
            throw new MaskRcnnException($"unknown layer group '{group}' (use {string.Join(", ", Names)})");
        long count = 0;
        foreach (var (name, p) in model.named_parameters())
        {
            p.requires_grad = pattern.IsMatch(name);
            if (p.requires_grad)
                count += p.numel();
        }
        return count;
    }

    /// <summary>
    /// Puts trainable BatchNorm layers outside <paramref name="group"/> in eval mode, so frozen stages keep their
    /// statistics (matterport's TRAIN_BN = False for frozen layers). "none" freezes every BatchNorm's statistics.
    /// </summary>
    public static void FreezeBatchNormOutside(MaskRCNN model, string group)
    {
        Patterns.TryGetValue(group, out var pattern);
        foreach (var (name, module) in model.named_modules())
            if (module is Modeling.Backbone.BatchNorm2d bn && (pattern is null || !pattern.IsMatch(name + ".")))
                bn.eval();
    }
}
