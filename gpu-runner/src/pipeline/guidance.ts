/**
 * Classifier-free guidance on a batch-2 prediction [negative, conditional]:
 * eps = eps_neg + s · (eps_cond − eps_neg). With s = 1 this is exactly the conditional prediction.
 */
export function applyGuidance(noisePred: Float32Array, guidanceScale: number): Float32Array {
  const half = noisePred.length / 2;
  const out = new Float32Array(half);
  for (let i = 0; i < half; i++) {
    const neg = noisePred[i];
    out[i] = guidanceScale === 1 ? noisePred[half + i] : neg + guidanceScale * (noisePred[half + i] - neg);
  }
  return out;
}

/** Index of the first step that sees the subject embeddings (delayed subject conditioning). */
export const subjectStartStep = (alpha: number, steps: number) => Math.floor((1 - alpha) * steps);
