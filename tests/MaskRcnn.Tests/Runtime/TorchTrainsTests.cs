using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace MaskRcnn.Tests.Runtime;

/// <summary>The proof that TorchSharp loads and trains here: forward, backward and SGD on a small conv net.</summary>
public class TorchTrainsTests
{
    [Fact]
    public void Small_conv_net_step_changes_weights_and_lowers_loss()
    {
        using var scope = NewDisposeScope();
        manual_seed(1);
        var net = Sequential(
            Conv2d(3, 8, 3, padding: 1),
            ReLU(),
            Conv2d(8, 8, 3, padding: 1, stride: 2),
            ReLU(),
            AdaptiveAvgPool2d(1),
            Flatten(),
            Linear(8, 2)
        );
        var y = arange(16) % 2; // two classes, eight images each
        var x = randn(16, 3, 16, 16) + (2 * y - 1).to(float32).view(16, 1, 1, 1); // class 1 is brighter
        var optimizer = optim.SGD(net.parameters(), 0.1, momentum: 0.9);
        var firstConv = net.parameters().First().detach().clone();

        float initialLoss = 0,
            loss = 0;
        for (int step = 0; step < 40; step++)
        {
            optimizer.zero_grad();
            var l = functional.cross_entropy(net.call(x), y);
            l.backward();
            optimizer.step();
            loss = l.item<float>();
            if (step == 0)
                initialLoss = loss;
        }

        Assert.False(net.parameters().First().detach().allclose(firstConv), "SGD did not change the weights");
        Assert.True(loss < 0.5f * initialLoss, $"loss did not fall: {initialLoss} -> {loss}");
    }
}
