import type { Box } from "@troupe/shared/contracts/generation";

/** Additive bias that forbids attention (DESIGN §4 step 6). */
export const BLOCKED = -10000;

export interface AttentionBiasOptions {
  /** Token count (77). */
  tokens: number;
  /** Latent height and width. */
  height: number;
  width: number;
  /** One entry per subject: its token position in the 77 ids and its box, if any. */
  subjects: { position: number; box?: Box }[];
}

/** Latent pixels covered by a normalized box; a box always covers at least one pixel. */
function boxMask(box: Box, height: number, width: number): Uint8Array {
  const mask = new Uint8Array(height * width);
  const x0 = Math.min(width - 1, Math.floor(box[0] * width));
  const y0 = Math.min(height - 1, Math.floor(box[1] * height));
  const x1 = Math.max(x0 + 1, Math.ceil(box[2] * width));
  const y1 = Math.max(y0 + 1, Math.ceil(box[3] * height));
  for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) mask[y * width + x] = 1;
  return mask;
}

/**
 * The conditional half's cross-attention bias [tokens, h, w] at latent resolution: a subject's
 * token may not be attended from pixels outside its box, and pixels inside a subject's box may
 * not attend another subject's token. Subjects without a box are unconstrained. Returns null when
 * no subject has a box, so the caller passes zeros and the UNet behaves as the plain one.
 */
export function buildAttentionBias(options: AttentionBiasOptions): Float32Array | null {
  const { tokens, height, width, subjects } = options;
  if (!subjects.some((s) => s.box)) return null;
  const plane = height * width;
  const bias = new Float32Array(tokens * plane);
  const masks = subjects.map((s) => (s.box ? boxMask(s.box, height, width) : null));
  subjects.forEach((subject, i) => {
    const row = bias.subarray(subject.position * plane, (subject.position + 1) * plane);
    const own = masks[i];
    for (let p = 0; p < plane; p++) {
      const outsideOwn = own !== null && own[p] === 0;
      const insideOther = masks.some((m, j) => j !== i && m !== null && m[p] === 1 && !(own !== null && own[p] === 1));
      if (outsideOwn || insideOther) row[p] = BLOCKED;
    }
  });
  return bias;
}
