import { MAX_PREFER_WAIT_S } from "./schema.ts";

/**
 * The seconds asked for by `Prefer: wait=N` (RFC 7240), capped at 60; undefined when absent, zero
 * or unparsable (the preference is then simply not applied, as RFC 7240 asks of unknown ones).
 */
export function preferredWaitS(prefer: string | undefined): number | undefined {
  if (!prefer) return undefined;
  for (const token of prefer.split(/[,;]/)) {
    const match = /^\s*wait\s*=\s*"?(\d{1,6})"?\s*$/i.exec(token);
    if (!match) continue;
    const n = Number(match[1]);
    return n > 0 ? Math.min(n, MAX_PREFER_WAIT_S) : undefined;
  }
  return undefined;
}
