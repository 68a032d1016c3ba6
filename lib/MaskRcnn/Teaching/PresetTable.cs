using System.Globalization;
using System.Text.Json;
using MaskRcnn.Config;
using MaskRcnn.Visualization;

namespace MaskRcnn.Teaching;

/// <summary>The presets side by side, field by field (their JSON), the fields that differ marked.</summary>
public static class PresetTable
{
    /// <param name="names">preset names (default: all of <see cref="Presets.Names"/>)</param>
    public static Table Compare(IReadOnlyList<string>? names = null)
    {
        names ??= Presets.Names;
        var json = names.ToDictionary(n => n, n => JsonDocument.Parse(Presets.Get(n).ToJson()).RootElement);
        var rows = new List<IReadOnlyList<string>>();
        void Add(string prefix, Func<JsonElement, JsonElement> section)
        {
            foreach (var field in section(json[names[0]]).EnumerateObject())
            {
                if (field.Value.ValueKind == JsonValueKind.Object)
                    continue;
                var values = names.Select(n => Show(section(json[n]).GetProperty(field.Name))).ToList();
                bool differs = values.Distinct().Count() > 1;
                rows.Add([(differs ? "► " : "") + prefix + field.Name, .. values]);
            }
        }
        Add("", e => e);
        Add("training.", e => e.GetProperty("training"));
        return new Table(["field (► differs)", .. names], rows);
    }

    /// <summary>A JSON value on one line, numbers with at most four decimals.</summary>
    static string Show(JsonElement value) =>
        value.ValueKind switch
        {
            JsonValueKind.Number => Round(value.GetDouble()),
            JsonValueKind.Array => string.Join(", ", value.EnumerateArray().Select(Show)),
            JsonValueKind.Null => "—",
            JsonValueKind.String => value.GetString() ?? "",
            _ => value.ToString(),
        };

    static string Round(double v) =>
        Math.Round(v, 4).ToString(CultureInfo.InvariantCulture) is var s && s.Length <= 10
            ? s
            : v.ToString("G4", CultureInfo.InvariantCulture);
}
