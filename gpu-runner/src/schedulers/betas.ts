import type { SchedulerConfig } from "@troupe/shared/contracts/manifest";

/**
 * The training noise schedule every scheduler starts from (diffusers' `__init__`):
 * β_t for t = 0..T−1 and ᾱ_t = ∏_{s≤t} (1 − β_s).
 *
 * Computed in float64; diffusers computes it in float32 torch tensors, so values agree to
 * about 1e-6 relative, far below what a float32 latent or a PNG can show.
 */

/** β_t. "scaled_linear" is linear in sqrt(β): the latent-diffusion (SD) schedule. */
export function betaSchedule(config: SchedulerConfig): Float64Array {
  const { numTrainTimesteps: T, betaStart, betaEnd, betaSchedule: kind } = config;
  const betas = new Float64Array(T);
  const start = kind === "scaled_linear" ? Math.sqrt(betaStart) : betaStart;
  const end = kind === "scaled_linear" ? Math.sqrt(betaEnd) : betaEnd;
  for (let t = 0; t < T; t++) {
    // torch.linspace(start, end, T): evenly spaced, both ends included
    const b = T === 1 ? start : start + ((end - start) * t) / (T - 1);
    betas[t] = kind === "scaled_linear" ? b * b : b;
  }
  return betas;
}

/** ᾱ_t = ∏_{s≤t} (1 − β_s), diffusers' `alphas_cumprod`. */
export function alphasCumprod(config: SchedulerConfig): Float64Array {
  const betas = betaSchedule(config);
  const out = new Float64Array(betas.length);
  let product = 1;
  for (let t = 0; t < betas.length; t++) {
    product *= 1 - betas[t];
    out[t] = product;
  }
  return out;
}

/** σ_t = sqrt((1 − ᾱ_t) / ᾱ_t): the same schedule seen as a variance-exploding noise level (k-diffusion). */
export function trainSigmas(alphasCumprod: Float64Array): Float64Array {
  return alphasCumprod.map((a) => Math.sqrt((1 - a) / a));
}
