import { fixText } from "./fix-text.ts";
import { replaceTracked, sliceTracked, track, type TrackedText } from "./tracked-text.ts";

/**
 * CLIP's text cleaning, in its order: ftfy (the subset in fix-text.ts), html.unescape twice,
 * whitespace collapsed and trimmed, lower-cased. Every step keeps the offset mapping back to
 * the original text.
 */
export function cleanTracked(text: string): TrackedText {
  let t = fixText(track(text));
  // ftfy also unescapes entities once when the text has no "<" (its unescape_html="auto").
  const passes = text.includes("<") ? 2 : 3;
  for (let i = 0; i < passes; i++) t = replaceTracked(t, ENTITY_RE, decodeEntity);
  t = replaceTracked(t, PY_WHITESPACE_RUN, () => " ");
  const from = t.text.startsWith(" ") ? 1 : 0;
  const to = t.text.endsWith(" ") && t.text.length > from ? t.text.length - 1 : t.text.length;
  return lowerCase(sliceTracked(t, from, to));
}

/** The cleaned text alone (for the trainer, and to show what the model reads). */
export const cleanText = (text: string): string => cleanTracked(text).text;

/**
 * Python's `\s` / str.isspace(), which CLIP's whitespace_clean uses; JS `\s` differs
 * (it has U+FEFF, lacks U+001C–U+001F and U+0085).
 */
export const PY_WHITESPACE = "\\t\\n\\v\\f\\r\\x1c-\\x20\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000";
const PY_WHITESPACE_RUN = new RegExp(`[${PY_WHITESPACE}]+`, "g");
const PY_WHITESPACE_EDGES = new RegExp(`^[${PY_WHITESPACE}]+|[${PY_WHITESPACE}]+$`, "g");

/** CLIP's whitespace_clean on plain text: runs of (Python) whitespace to one space, trimmed. */
export const collapseWhitespace = (text: string): string => text.replace(PY_WHITESPACE_EDGES, "").replace(PY_WHITESPACE_RUN, " ");

/**
 * The entities prompts actually contain, decoded as Python's html.unescape decodes them
 * (legacy names also without ";", numeric references with or without it). Python knows all
 * 2231 HTML5 names and remaps C1 references through cp1252; those are left as typed here.
 */
const ENTITY_RE = /&(?:#[0-9]+;?|#[xX][0-9a-fA-F]+;?|(?:amp|lt|gt|quot|nbsp|copy|reg|AMP|LT|GT|QUOT|COPY|REG);?|apos;)/g;

const NAMED: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', nbsp: "\u00a0", copy: "\u00a9", reg: "\u00ae", apos: "'" };

function decodeEntity(entity: string): string {
  const body = entity.slice(1).replace(/;$/, "");
  if (!body.startsWith("#")) return NAMED[body.toLowerCase()] ?? entity;
  const hex = body[1] === "x" || body[1] === "X";
  const code = hex ? parseInt(body.slice(2), 16) : parseInt(body.slice(1), 10);
  if (code === 0 || (code >= 0xd800 && code <= 0xdfff) || !(code <= 0x10ffff)) return "\ufffd";
  return String.fromCodePoint(code);
}

/**
 * Lower-case one code point at a time so each keeps its span, then take the whole-string
 * result when it has the same length (it differs only by context rules like final sigma).
 */
function lowerCase(t: TrackedText): TrackedText {
  const perChar = replaceTracked(t, /[^\x00-\x40\x5b-\x7f]/gu, (c) => c.toLowerCase());
  const whole = t.text.toLowerCase();
  return whole.length === perChar.text.length ? { ...perChar, text: whole } : perChar;
}
