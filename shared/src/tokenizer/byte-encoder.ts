/**
 * GPT-2/CLIP's reversible byte → unicode table: printable bytes map to themselves, the rest to
 * code points from 256 up, so BPE works on visible characters and never on raw control bytes.
 */
function bytesToUnicode(): string[] {
  const bs: number[] = [];
  for (const [from, to] of [[0x21, 0x7e], [0xa1, 0xac], [0xae, 0xff]]) for (let b = from; b <= to; b++) bs.push(b);
  const cs = bs.slice();
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (!bs.includes(b)) {
      bs.push(b);
      cs.push(256 + n++);
    }
  }
  const table: string[] = new Array(256);
  bs.forEach((b, i) => (table[b] = String.fromCodePoint(cs[i])));
  return table;
}

/** BYTE_ENCODER[b] is the symbol for byte b. */
export const BYTE_ENCODER: readonly string[] = bytesToUnicode();

/** The 256 byte symbols in CLIP's vocabulary order (printable ranges first, then the rest). */
export const BYTE_SYMBOLS: readonly string[] = (() => {
  const order: number[] = [];
  for (const [from, to] of [[0x21, 0x7e], [0xa1, 0xac], [0xae, 0xff]]) for (let b = from; b <= to; b++) order.push(b);
  for (let b = 0; b < 256; b++) if (!order.includes(b)) order.push(b);
  return order.map((b) => BYTE_ENCODER[b]);
})();

const utf8 = new TextEncoder();

/** A pre-tokenized word as byte symbols. */
export const encodeBytes = (word: string): string => Array.from(utf8.encode(word), (b) => BYTE_ENCODER[b]).join("");
