import type { SchedulerConfig } from "@troupe/shared/contracts/manifest";
import { alphasCumprod } from "./betas.ts";
import { assertNumInferenceSteps, notInitialized, type Scheduler } from "./scheduler.ts";

/**
 * DDIM (Song et al. 2020, https://arxiv.org/abs/2010.02502), ported from diffusers' `DDIMScheduler`
 * with eta = 0 (deterministic). Where SD 1.5's scheduler_config.json is silent we keep DDIMScheduler's
 * own defaults: timestep_spacing "leading", thresholding false, rescale_betas_zero_snr false.
 * clip_sample is false, as SD 1.5's scheduler_config.json sets it (DDIMScheduler's own default is true).
 */

// Copied from ./scheduling-pndm.ts (leadingTimesteps)
/**
 * "leading" spacing: t_i = i · ⌊T/n⌋ + steps_offset for i = 0..n−1 (Table 2 of
 * https://arxiv.org/abs/2305.08891), returned in ascending order.
 */
function leadingTimesteps(numInferenceSteps: number, numTrainTimesteps: number, stepsOffset: number): number[] {
  const stepRatio = Math.floor(numTrainTimesteps / numInferenceSteps);
  return Array.from({ length: numInferenceSteps }, (_, i) => i * stepRatio + stepsOffset);
}

export class DdimScheduler implements Scheduler {
  readonly initNoiseSigma = 1;
  private readonly alphasCumprod: Float64Array;
  /** ᾱ for the step after the last: 1 with set_alpha_to_one, else ᾱ_0 (SD 1.5). */
  private readonly finalAlphaCumprod: number;
  private numInferenceSteps: number | null = null;
  private schedule: number[] = [];

  constructor(private readonly config: SchedulerConfig) {
    this.alphasCumprod = alphasCumprod(config);
    this.finalAlphaCumprod = config.setAlphaToOne ? 1 : this.alphasCumprod[0];
  }

  get timesteps(): readonly number[] {
    return this.schedule;
  }

  setTimesteps(numInferenceSteps: number): void {
    assertNumInferenceSteps(numInferenceSteps, this.config.numTrainTimesteps);
    this.numInferenceSteps = numInferenceSteps;
    this.schedule = leadingTimesteps(numInferenceSteps, this.config.numTrainTimesteps, this.config.stepsOffset).reverse();
  }

  /** DDIM needs no input scaling. */
  scaleModelInput(sample: Float32Array, _timestep: number): Float32Array {
    return sample;
  }

  step(modelOutput: Float32Array, timestep: number, sample: Float32Array): Float32Array<ArrayBuffer> {
    if (this.numInferenceSteps === null) throw notInitialized("DdimScheduler");
    // Notation (<variable name> -> <name in paper>), see formulas (12) and (16) of the DDIM paper:
    // - pred_noise_t -> e_theta(x_t, t)
    // - pred_original_sample -> f_theta(x_t, t) or x_0
    // - std_dev_t -> sigma_t (0 here: eta = 0)
    // - alpha_prod_t -> alpha_t (the paper's alpha is diffusers' cumulative ᾱ)
    // - prev_sample -> x_t-1

    // 1. get previous step value (=t-1)
    const prevTimestep = timestep - Math.floor(this.config.numTrainTimesteps / this.numInferenceSteps);

    // 2. compute alphas, betas
    const alphaProdT = this.alphaAt(timestep);
    const alphaProdTPrev = prevTimestep >= 0 ? this.alphaAt(prevTimestep) : this.finalAlphaCumprod;
    const betaProdT = 1 - alphaProdT;

    // 3. compute predicted original sample from predicted noise, "predicted x_0" of formula (12)
    // 4. no clipping or thresholding of x_0 (SD 1.5: clip_sample false, thresholding false)
    // 5. variance σ_t(η) of formula (16) is 0 for eta = 0
    // 6. compute "direction pointing to x_t" of formula (12): sqrt(1 − ᾱ_prev − σ²) · ε
    // 7. compute x_t without "random noise" of formula (12)
    const sqrtAlphaProdT = Math.sqrt(alphaProdT);
    const sqrtBetaProdT = Math.sqrt(betaProdT);
    const sqrtAlphaPrev = Math.sqrt(alphaProdTPrev);
    const directionCoeff = Math.sqrt(1 - alphaProdTPrev);
    const prevSample = new Float32Array(sample.length);
    for (let i = 0; i < sample.length; i++) {
      const predOriginalSample = (sample[i] - sqrtBetaProdT * modelOutput[i]) / sqrtAlphaProdT;
      prevSample[i] = sqrtAlphaPrev * predOriginalSample + directionCoeff * modelOutput[i];
    }
    return prevSample;
  }

  private alphaAt(timestep: number): number {
    if (!Number.isInteger(timestep) || timestep < 0 || timestep >= this.alphasCumprod.length) {
      throw new RangeError(`DdimScheduler: timestep ${timestep} is not an integer in 0..${this.alphasCumprod.length - 1}.`);
    }
    return this.alphasCumprod[timestep];
  }
}
