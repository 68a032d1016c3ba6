using System.Text;

namespace MaskRcnn.IO;

/// <summary>
/// Text from data files (file names, labels, keys) made safe to print: control characters (ANSI escape sequences,
/// carriage returns, new lines, bells) and the invisible characters that reorder text on screen are written as
/// escapes (<c>\e</c>, <c>\n</c>, <c>\u202E</c>), so a name can neither move the cursor, recolour the terminal nor
/// forge a line such as <c>error: …</c>.
/// </summary>
public static class Printable
{
    /// <summary><paramref name="text"/> with every control or reordering character escaped.</summary>
    public static string Escape(string? text, bool keepNewLines = false)
    {
        if (text is null)
            return "";
        int i = 0;
        while (i < text.Length && !NeedsEscape(text[i], keepNewLines))
            i++;
        if (i == text.Length)
            return text;
        var sb = new StringBuilder(text.Length + 16);
        sb.Append(text, 0, i);
        for (; i < text.Length; i++)
        {
            char c = text[i];
            if (!NeedsEscape(c, keepNewLines))
            {
                sb.Append(c);
                continue;
            }
            sb.Append(
                c switch
                {
                    '\n' => "\\n",
                    '\r' => "\\r",
                    '\t' => "\\t",
                    '\u001b' => "\\e",
                    _ => $"\\u{(int)c:X4}",
                }
            );
        }
        return sb.ToString();
    }

    static bool NeedsEscape(char c, bool keepNewLines) =>
        c == '\n'
            ? !keepNewLines
            : char.IsControl(c)
                || c is >= '\u202A' and <= '\u202E' or >= '\u2066' and <= '\u2069' or '\u200E' or '\u200F'
                || c is '\u2028' or '\u2029';

    /// <summary>
    /// A writer that escapes what it is given (<see cref="Escape"/>): each WriteLine call is one line on the
    /// terminal, whatever its text holds. The CLI writes through two of them (stdout, stderr).
    /// </summary>
    public sealed class Writer(TextWriter inner) : TextWriter
    {
        public override Encoding Encoding => inner.Encoding;

        public override void Write(char value)
        {
            if (NeedsEscape(value, keepNewLines: true))
                inner.Write(Escape(value.ToString()));
            else
                inner.Write(value);
        }

        public override void Write(string? value) => inner.Write(Escape(value, keepNewLines: true));

        public override void Write(char[] buffer, int index, int count) => Write(new string(buffer, index, count));

        public override void WriteLine(string? value) => inner.WriteLine(Escape(value));

        public override void WriteLine() => inner.WriteLine();

        public override void Flush() => inner.Flush();
    }
}
