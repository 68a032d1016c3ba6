using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace MaskRcnn.IO;

/// <summary>
/// JSON read from files: a key given twice in one object is an error naming the key and where it is (JSON leaves
/// duplicates undefined: one of the two would be dropped without a word), and every parse error names the file.
/// </summary>
public static class JsonInput
{
    /// <summary>The options every data file is parsed with: trailing commas allowed, duplicate keys refused.</summary>
    public static JsonDocumentOptions DocumentOptions { get; } =
        new()
        {
            AllowTrailingCommas = true,
            MaxDepth = 256,
            AllowDuplicateProperties = false,
        };

    /// <summary>
    /// Parses <paramref name="json"/> (from <paramref name="source"/>); a <see cref="MaskRcnnException"/> that says
    /// "<paramref name="source"/>: not valid JSON (…)" or names a duplicate key's path and line.
    /// </summary>
    public static JsonNode? Parse(string json, string source)
    {
        try
        {
            return JsonNode.Parse(json, documentOptions: DocumentOptions);
        }
        catch (JsonException e)
        {
            throw Error(json, source, e);
        }
    }

    /// <summary>
    /// The error for a <see cref="JsonException"/> met while reading <paramref name="json"/>: the duplicate key's
    /// path and line when that is the cause (<see cref="DuplicateKey"/>), else "not valid JSON (…)".
    /// </summary>
    public static MaskRcnnException Error(string json, string source, JsonException e) =>
        DuplicateKey(json, source, e) ?? new MaskRcnnException($"{source}: not valid JSON ({e.Message})", e);

    /// <summary>
    /// When <paramref name="json"/> gives a key twice in one object: an error naming the key's path and line;
    /// otherwise null.
    /// </summary>
    public static MaskRcnnException? DuplicateKey(string json, string source, Exception? inner = null) =>
        FindDuplicate(json) is var (path, line)
            ? new MaskRcnnException(
                $"{source}: line {line}: the key {path} is given twice in one object (JSON objects need unique "
                    + "keys; which value was meant is unknown); refused",
                inner
            )
            : null;

    /// <summary>The JSONPath and line of the first key repeated within one object, or null.</summary>
    static (string Path, long Line)? FindDuplicate(string json)
    {
        var bytes = Encoding.UTF8.GetBytes(json);
        var reader = new Utf8JsonReader(
            bytes,
            new JsonReaderOptions
            {
                AllowTrailingCommas = true,
                CommentHandling = JsonCommentHandling.Skip,
                MaxDepth = 256,
            }
        );
        // One frame per open container: its keys (null for an array) and the next array index.
        var frames = new Stack<(HashSet<string>? Keys, int Index)>();
        var path = new Stack<string>(); // the segments leading to the current value
        try
        {
            while (reader.Read())
            {
                switch (reader.TokenType)
                {
                    case JsonTokenType.StartObject:
                    case JsonTokenType.StartArray:
                        EnterValue();
                        frames.Push((reader.TokenType == JsonTokenType.StartObject ? [] : null, 0));
                        break;
                    case JsonTokenType.EndObject:
                    case JsonTokenType.EndArray:
                        frames.Pop();
                        LeaveValue();
                        break;
                    case JsonTokenType.PropertyName:
                        string name = reader.GetString()!;
                        path.Push(Key(name));
                        if (!frames.Peek().Keys!.Add(name))
                        {
                            long line = 1 + bytes.AsSpan(0, (int)reader.TokenStartIndex).Count((byte)'\n');
                            return (Format(path.Reverse()), line);
                        }
                        break;
                    case JsonTokenType.Comment:
                        break;
                    default:
                        EnterValue();
                        LeaveValue();
                        break;
                }
            }
        }
        catch (JsonException)
        {
            return null;
        }
        return null;

        // A value inside an array is named by its index; one inside an object by the key read before it.
        void EnterValue()
        {
            if (frames.Count > 0 && frames.Peek().Keys is null)
            {
                var (keys, i) = frames.Pop();
                frames.Push((keys, i + 1));
                path.Push($"[{i}]");
            }
        }

        void LeaveValue()
        {
            if (frames.Count > 0)
                path.Pop();
        }
    }

    static string Key(string name) => "." + (name.Length > 60 ? name[..60] + "…" : name);

    static string Format(IEnumerable<string> segments) => "'$" + string.Concat(segments) + "'";
}
