import type { SchedulerConfig } from "@troupe/shared/contracts/manifest";
import { alphasCumprod } from "./betas.ts";
import { assertNumInferenceSteps, notInitialized, type Scheduler } from "./scheduler.ts";

/**
 * PNDM (Liu et al. 2022, https://arxiv.org/abs/2202.09778) as SD 1.5 ships it, ported from diffusers'
 * `PNDMScheduler` with skip_prk_steps = true: only the linear multistep (PLMS) part, after crowsonkb's
 * PLMS sampler (https://github.com/CompVis/latent-diffusion/pull/51). Where SD 1.5's config is silent
 * we keep PNDMScheduler's defaults: timestep_spacing "leading".
 *
 * PLMS needs earlier ε predictions, so it starts with one second-order (Heun-like) step: the second
 * model call re-evaluates at the *same* previous timestep and redoes the first step with the mean of
 * both predictions. Hence `timesteps` has steps + 1 entries with the second one repeated, e.g.
 * [981, 961, 961, 941, …, 1] for 50 steps.
 */

/**
 * "leading" spacing: t_i = i · ⌊T/n⌋ + steps_offset for i = 0..n−1 (Table 2 of
 * https://arxiv.org/abs/2305.08891), returned in ascending order.
 */
function leadingTimesteps(numInferenceSteps: number, numTrainTimesteps: number, stepsOffset: number): number[] {
  const stepRatio = Math.floor(numTrainTimesteps / numInferenceSteps);
  return Array.from({ length: numInferenceSteps }, (_, i) => i * stepRatio + stepsOffset);
}

/** diffusers: concatenate([t[:-1], t[-2:-1], t[-1:]])[::-1], the second-to-last (ascending) entry twice. */
function plmsTimesteps(ascending: number[]): number[] {
  const repeated = ascending.length > 1 ? [ascending[ascending.length - 2]] : [];
  return [...ascending.slice(0, -1), ...repeated, ...ascending.slice(-1)].reverse();
}

/** Σ_k c_k · e_k over arrays of the same length: the linear multistep combination of past ε. */
function combine(terms: ReadonlyArray<readonly [number, Float32Array]>): Float32Array<ArrayBuffer> {
  const out = new Float32Array(terms[0][1].length);
  for (let i = 0; i < out.length; i++) {
    let sum = 0; // accumulated in float64, rounded once
    for (const [c, e] of terms) sum += c * e[i];
    out[i] = sum;
  }
  return out;
}

export class PndmScheduler implements Scheduler {
  readonly initNoiseSigma = 1;
  private readonly alphasCumprod: Float64Array;
  /** ᾱ for the step after the last: 1 with set_alpha_to_one, else ᾱ_0 (SD 1.5). */
  private readonly finalAlphaCumprod: number;
  private numInferenceSteps: number | null = null;
  private schedule: number[] = [];
  // running values, reset by setTimesteps
  private ets: Float32Array[] = [];
  private counter = 0;
  private curSample: Float32Array | null = null;

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
    this.schedule = plmsTimesteps(leadingTimesteps(numInferenceSteps, this.config.numTrainTimesteps, this.config.stepsOffset));
    this.ets = [];
    this.counter = 0;
    this.curSample = null;
  }

  /** PNDM needs no input scaling. */
  scaleModelInput(sample: Float32Array, _timestep: number): Float32Array {
    return sample;
  }

  /** diffusers' `step_plms`. */
  step(modelOutput: Float32Array, timestep: number, sample: Float32Array): Float32Array<ArrayBuffer> {
    if (this.numInferenceSteps === null) throw notInitialized("PndmScheduler");
    const stepRatio = Math.floor(this.config.numTrainTimesteps / this.numInferenceSteps);

    // 1. get previous step value; the second call redoes the first step (t → t−δ) from the same x_t
    let prevTimestep = timestep - stepRatio;
    if (this.counter !== 1) {
      // copied: the caller may reuse its buffer; only the last 4 predictions are ever read
      this.ets = [...this.ets.slice(-3), modelOutput.slice()];
    } else {
      prevTimestep = timestep;
      timestep = timestep + stepRatio;
    }

    // 2. combine past predictions: Euler, then Heun, then Adams–Bashforth of order 2, 3, 4
    const e = (k: number) => this.ets[this.ets.length - k];
    let eps: Float32Array;
    if (this.ets.length === 1 && this.counter === 0) {
      eps = modelOutput;
      this.curSample = sample.slice();
    } else if (this.ets.length === 1 && this.counter === 1) {
      eps = combine([[0.5, modelOutput], [0.5, e(1)]]);
      sample = this.curSample ?? sample;
      this.curSample = null;
    } else if (this.ets.length === 2) {
      eps = combine([[3 / 2, e(1)], [-1 / 2, e(2)]]);
    } else if (this.ets.length === 3) {
      eps = combine([[23 / 12, e(1)], [-16 / 12, e(2)], [5 / 12, e(3)]]);
    } else {
      eps = combine([[55 / 24, e(1)], [-59 / 24, e(2)], [37 / 24, e(3)], [-9 / 24, e(4)]]);
    }

    // 3. compute x_{t−δ} with formula (9)
    const prevSample = this.getPrevSample(sample, timestep, prevTimestep, eps);
    this.counter += 1;
    return prevSample;
  }

  /**
   * Formula (9) of the PNDM paper: x_{t−δ} = sqrt(ᾱ_{t−δ}/ᾱ_t) · x_t − (ᾱ_{t−δ} − ᾱ_t) · ε / denom,
   * denom = ᾱ_t · sqrt(1 − ᾱ_{t−δ}) + sqrt(ᾱ_t · (1 − ᾱ_t) · ᾱ_{t−δ}); algebraically the DDIM (η = 0) step.
   */
  private getPrevSample(sample: Float32Array, timestep: number, prevTimestep: number, modelOutput: Float32Array): Float32Array<ArrayBuffer> {
    const alphaProdT = this.alphaAt(timestep);
    const alphaProdTPrev = prevTimestep >= 0 ? this.alphaAt(prevTimestep) : this.finalAlphaCumprod;
    const betaProdT = 1 - alphaProdT;
    const betaProdTPrev = 1 - alphaProdTPrev;

    const sampleCoeff = Math.sqrt(alphaProdTPrev / alphaProdT);
    const modelOutputDenomCoeff = alphaProdT * Math.sqrt(betaProdTPrev) + Math.sqrt(alphaProdT * betaProdT * alphaProdTPrev);
    const outputCoeff = (alphaProdTPrev - alphaProdT) / modelOutputDenomCoeff;

    const prevSample = new Float32Array(sample.length);
    for (let i = 0; i < sample.length; i++) prevSample[i] = sampleCoeff * sample[i] - outputCoeff * modelOutput[i];
    return prevSample;
  }

  private alphaAt(timestep: number): number {
    if (!Number.isInteger(timestep) || timestep < 0 || timestep >= this.alphasCumprod.length) {
      throw new RangeError(`PndmScheduler: timestep ${timestep} is not an integer in 0..${this.alphasCumprod.length - 1}.`);
    }
    return this.alphasCumprod[timestep];
  }
}
