using System.Globalization;
using System.Net;
using System.Reflection;
using System.Text;

namespace MaskRcnn.Visualization;

/// <summary>Names a property's column in <see cref="Table.From{T}(IEnumerable{T}, string)"/> and how its numbers
/// print (a .NET format such as "F3" or "N0").</summary>
[AttributeUsage(AttributeTargets.Property)]
public sealed class ColumnAttribute(string header, string? format = null) : Attribute
{
    public string Header { get; } = header;
    public string? Format { get; } = format;
}

/// <summary>
/// A table of text cells that displays itself in a notebook (HTML; <see cref="ToMarkdown"/> for files): made from
/// rows of a record (<see cref="From{T}(IEnumerable{T}, string)"/>, one column per property) or from explicit
/// columns (<see cref="Of{T}"/>). Numbers print with three decimals unless a column says otherwise; a missing
/// value (null, NaN) prints as "—", never as a number.
/// </summary>
public sealed class Table(IReadOnlyList<string> headers, IReadOnlyList<IReadOnlyList<string>> rows, string caption = "")
{
    public IReadOnlyList<string> Headers { get; } = headers;
    public IReadOnlyList<IReadOnlyList<string>> Rows { get; } = rows;
    public string Caption { get; } = caption;

    /// <summary>One column per public property of <typeparamref name="T"/> ([Column] names and formats it).</summary>
    public static Table From<T>(IEnumerable<T> rows, string caption = "")
    {
        var properties = typeof(T).GetProperties(BindingFlags.Public | BindingFlags.Instance);
        var headers = properties.Select(p => p.GetCustomAttribute<ColumnAttribute>()?.Header ?? p.Name).ToList();
        var cells = rows.Select(r =>
                (IReadOnlyList<string>)
                    properties
                        .Select(p => Cell(p.GetValue(r), p.GetCustomAttribute<ColumnAttribute>()?.Format))
                        .ToList()
            )
            .ToList();
        return new Table(headers, cells, caption);
    }

    /// <summary>Explicit columns: a header and a value (formatted as <see cref="Cell"/> does) for each.</summary>
    public static Table Of<T>(IEnumerable<T> rows, params (string Header, Func<T, object?> Value)[] columns) =>
        new(
            columns.Select(c => c.Header).ToList(),
            rows.Select(r => (IReadOnlyList<string>)columns.Select(c => Cell(c.Value(r), null)).ToList()).ToList()
        );

    /// <summary>At most this many pixels tall in a notebook, with a scroll bar for the rest (0: no
    /// limit).</summary>
    public int MaxHeight { get; init; }

    /// <summary>The same table with a caption above it.</summary>
    public Table WithCaption(string caption) => new(Headers, Rows, caption) { MaxHeight = MaxHeight };

    /// <summary>The same table in a box of at most <paramref name="height"/> px that scrolls.</summary>
    public Table Scrollable(int height = 420) => new(Headers, Rows, Caption) { MaxHeight = height };

    /// <summary>
    /// A value as a cell: null/NaN "—", floating-point numbers with <paramref name="format"/> (default F3),
    /// integers with thousands separators, anything else as its text; invariant culture.
    /// </summary>
    public static string Cell(object? value, string? format) =>
        value switch
        {
            null => "—",
            double d when double.IsNaN(d) => "—",
            float f when float.IsNaN(f) => "—",
            double d => d.ToString(format ?? "F3", CultureInfo.InvariantCulture),
            float f => f.ToString(format ?? "F3", CultureInfo.InvariantCulture),
            int or long => ((IFormattable)value).ToString(format ?? "N0", CultureInfo.InvariantCulture),
            IFormattable x when format is not null => x.ToString(format, CultureInfo.InvariantCulture),
            _ => value.ToString() ?? "",
        };

    public string ToHtml()
    {
        var html = new StringBuilder("<table style=\"border-collapse:collapse;font-size:13px\">");
        if (Caption.Length > 0)
            html.Append($"<caption style=\"text-align:left;font-weight:bold\">{Encode(Caption)}</caption>");
        html.Append("<thead><tr>");
        foreach (var h in Headers)
            html.Append($"<th style=\"{CellStyle};text-align:left\">{Encode(h)}</th>");
        html.Append("</tr></thead><tbody>");
        foreach (var row in Rows)
        {
            html.Append("<tr>");
            foreach (var cell in row)
                html.Append(
                    $"<td style=\"{CellStyle};text-align:{(IsNumber(cell) ? "right" : "left")}\">{Encode(cell)}</td>"
                );
            html.Append("</tr>");
        }
        html.Append("</tbody></table>");
        return MaxHeight > 0 ? $"<div style=\"max-height:{MaxHeight}px;overflow:auto\">{html}</div>" : html.ToString();
    }

    public string ToMarkdown()
    {
        var md = new StringBuilder();
        if (Caption.Length > 0)
            md.Append($"**{Caption}**\n\n");
        md.Append("| ").Append(string.Join(" | ", Headers.Select(Escape))).Append(" |\n");
        md.Append('|').Append(string.Concat(Headers.Select(_ => "---|"))).Append('\n');
        foreach (var row in Rows)
            md.Append("| ").Append(string.Join(" | ", row.Select(Escape))).Append(" |\n");
        return md.ToString();
    }

    public override string ToString() => ToMarkdown();

    const string CellStyle = "border:1px solid #ccc;padding:2px 8px";

    static bool IsNumber(string cell) =>
        double.TryParse(
            cell.Replace(",", "").TrimEnd('%', ' '),
            NumberStyles.Float,
            CultureInfo.InvariantCulture,
            out _
        );

    static string Encode(string text) => WebUtility.HtmlEncode(text);

    static string Escape(string text) => text.Replace("|", "\\|").Replace("\n", " ");
}
