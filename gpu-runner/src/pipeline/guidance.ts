/**
 * Classifier-free guidance on a prediction batched as [negative × G, conditional × G]:
 * eps = eps_neg + s · (eps_cond − eps_neg), per image. With s = 1 this is exactly the conditional
 * prediction, which is why the pipeline runs no negative half at guidance 1 (see `guidanceHalves` in the manifest contract).
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

/**
 * Delayed subject conditioning (DESIGN §4 step 5): how many leading UNet calls of one image use the
 * text-only embedding; every later call uses the augmented one.
 *
 * The rule that wins is the documented one: the first floor((1 − alpha) · steps) requested steps are
 * text-only, with the floor taken on the decimal value, and PNDM's warm-up call counting as step 0 (so a
 * scheduler with `calls = steps + 1` has one more text-only call whenever any step is text-only). On PNDM,
 * SD 1.5's and FastComposer's scheduler, that is the count of the reference's `i <= (1 - alpha_) * steps`
 * over its steps + 1 calls: 16 text-only calls at alpha 0.7 and 50 steps. (The reference differs at alpha 1,
 * where `i <= 0` keeps call 0 text-only, where its own float slip bites, and on single-call-per-step
 * schedulers, where its `<=` gives one step more than the documented fraction.)
 * In binary floating point (1 − 0.8) · 50 is 9.999999999999998, whose floor would lose a text-only step;
 * the 1e-9 nudge restores the decimal answer (10). It is far above the rounding error of the product (a few
 * ulps of at most 150, ~1e-13) and changes no floor unless alpha has nine or more decimals.
 */
export function textOnlyCalls(alpha: number, steps: number, calls: number = steps): number {
  const textSteps = Math.min(steps, Math.max(0, Math.floor((1 - alpha) * steps + 1e-9)));
  return textSteps === 0 ? 0 : textSteps + (calls - steps);
}
