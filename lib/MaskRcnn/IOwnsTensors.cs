using TorchSharp;
using static TorchSharp.torch;

namespace MaskRcnn;

/// <summary>
/// A record that owns tensors: what a stage returns (<c>RpnOutput</c>, <c>RoiHeadsOutput</c>, <c>Detections</c>, …).
/// It lists its tensors once, in <see cref="OwnedTensors"/>; moving them out of the step's dispose scope and disposing
/// them work from that list (<see cref="TensorRecords"/>).
/// </summary>
public interface IOwnsTensors
{
    /// <summary>Every tensor the record holds, those of the records it holds included (absent ones left out).</summary>
    IEnumerable<Tensor> OwnedTensors { get; }
}

/// <summary>What every <see cref="IOwnsTensors"/> record can do with its tensors.</summary>
public static class TensorRecords
{
    /// <summary>
    /// Moves every tensor of <paramref name="record"/> to the outer dispose scope (each must belong to the current
    /// one), as a step does with the record it returns; returns the record.
    /// </summary>
    public static T MoveToOuterDisposeScope<T>(this T record)
        where T : IOwnsTensors
    {
        foreach (var tensor in record.OwnedTensors)
            tensor.MoveToOuterDisposeScope();
        return record;
    }

    /// <summary>The tensors given, without the absent (null) ones: for a record's optional fields.</summary>
    public static IEnumerable<Tensor> Present(params Tensor?[] tensors) =>
        tensors.Where(t => t is not null).Select(t => t!);

    /// <summary>Disposes every tensor of <paramref name="record"/>.</summary>
    public static void DisposeTensors(this IOwnsTensors record)
    {
        foreach (var tensor in record.OwnedTensors)
            tensor.Dispose();
    }
}
