namespace MaskRcnn.Config;

/// <summary>JSON null for a section or list of a configuration: named as a problem rather than met as a crash.</summary>
static class NullFields
{
    /// <summary>One problem line for each field whose value is null.</summary>
    public static List<string> Problems(params (string Name, object? Value)[] fields) =>
        fields
            .Where(f => f.Value is null)
            .Select(f => $"{f.Name}: null (give a value, or leave the key out for the default)")
            .ToList();
}
