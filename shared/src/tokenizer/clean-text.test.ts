import { describe, expect, it } from "vitest";
import { cleanText, cleanTracked, collapseWhitespace } from "./clean-text.ts";
import { preTokenize } from "./pre-tokenize.ts";

describe("cleanText", () => {
  it.each([
    ["  Hello \t\n World  ", "hello world"],
    ["rock &amp; roll &AMP; more &amp jazz", "rock & roll & more & jazz"],
    ["&lt;b&gt; &quot;x&quot; &#39;y&#x27; &apos;z&apos;", "<b> \"x\" 'y' 'z'"],
    ["a&nbsp;b\u00a0c\u3000d\x1ce\u0085f", "a b c d e f"],
    ["keep\ufeffbom", "keep\ufeffbom"],
    ["it’s “quoted”", "it's \"quoted\""],
    ["ﬁne ＦＵＬＬ", "fine full"],
    ["ΟΔΟΣ", "οδος"],
    ["&#0; &#xD800; &#1114112;", "\ufffd \ufffd \ufffd"],
  ])("%j → %j", (text, cleaned) => {
    expect(cleanText(text)).toBe(cleaned);
  });

  it("unescapes three times without '<' (ftfy, then CLIP twice) and twice with it", () => {
    expect(cleanText("&amp;amp;amp;")).toBe("&");
    expect(cleanText("< &amp;amp;amp;")).toBe("< &amp;");
  });

  it("maps every cleaned character back to the characters it came from", () => {
    const text = "  Tom&amp;Jerry’s\u3000ＣＡＴ  ";
    const t = cleanTracked(text);
    expect(t.text).toBe("tom&jerry's cat");
    const pieces = preTokenize(t.text).map((p) => text.slice(t.starts[p.start], t.ends[p.end - 1]));
    expect(pieces).toEqual(["Tom", "&amp;", "Jerry", "’s", "ＣＡＴ"]);
  });

  it("collapses whitespace the way Python's \\s does", () => {
    expect(collapseWhitespace("\x1f a \ufeff  b\n")).toBe("a \ufeff b");
  });
});
