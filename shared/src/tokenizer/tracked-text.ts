/**
 * Text that remembers where it came from: for every UTF-16 unit of `text`, the span
 * `[starts[i], ends[i])` of the original string it was produced from. Cleaning rewrites the
 * prompt (entities, whitespace, case) and we still want to point a person at the characters
 * they typed.
 */
export interface TrackedText {
  readonly text: string;
  readonly starts: readonly number[];
  readonly ends: readonly number[];
}

/** The identity mapping: each unit comes from itself. */
export function track(text: string): TrackedText {
  const starts = Array.from({ length: text.length }, (_, i) => i);
  return { text, starts, ends: starts.map((i) => i + 1) };
}

/**
 * Like `String.prototype.replace` with a global regex, keeping the mapping: unchanged text keeps
 * its spans, each unit of a replacement gets the span of the whole match it replaces.
 * Zero-length matches are ignored.
 */
export function replaceTracked(source: TrackedText, pattern: RegExp, replace: (match: string) => string): TrackedText {
  let text = "";
  const starts: number[] = [];
  const ends: number[] = [];
  const copy = (from: number, to: number) => {
    text += source.text.slice(from, to);
    for (let i = from; i < to; i++) {
      starts.push(source.starts[i]);
      ends.push(source.ends[i]);
    }
  };
  let last = 0;
  for (const m of source.text.matchAll(pattern)) {
    const from = m.index;
    const to = from + m[0].length;
    const replacement = replace(m[0]);
    if (to === from || replacement === m[0]) continue;
    copy(last, from);
    text += replacement;
    for (let k = 0; k < replacement.length; k++) {
      starts.push(source.starts[from]);
      ends.push(source.ends[to - 1]);
    }
    last = to;
  }
  if (last === 0) return source;
  copy(last, source.text.length);
  return { text, starts, ends };
}

/** Drops `from` units at the start and keeps the units up to `to`, as `slice` does. */
export function sliceTracked(source: TrackedText, from: number, to: number): TrackedText {
  return { text: source.text.slice(from, to), starts: source.starts.slice(from, to), ends: source.ends.slice(from, to) };
}

/** The original span of the units `[from, to)`; an empty range maps to an empty original span. */
export function originalSpan(source: TrackedText, from: number, to: number): { start: number; end: number } {
  if (to <= from) {
    const at = from < source.starts.length ? source.starts[from] : (source.ends.at(-1) ?? 0);
    return { start: at, end: at };
  }
  return { start: source.starts[from], end: source.ends[to - 1] };
}
