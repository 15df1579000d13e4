import { randomBytes } from "node:crypto";

const ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz";

function randomBase36(length: number): string {
  const bytes = randomBytes(length);
  let out = "";
  for (const b of bytes) out += ALPHABET[b % 36];
  return out;
}

/**
 * Time-sortable id: 9 base36 chars of epoch ms (ASCII order = time order until year 5138)
 * then 16 random chars, so a descending sort-key query lists newest first.
 */
export function newId(prefix: "gen" | "upl" | "sub" | "key", now = Date.now()): string {
  return `${prefix}_${now.toString(36).padStart(9, "0")}${randomBase36(16)}`;
}
