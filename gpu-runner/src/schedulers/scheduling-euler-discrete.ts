import type { SchedulerConfig } from "@troupe/shared/contracts/manifest";
import { alphasCumprod, trainSigmas } from "./betas.ts";
import { assertNumInferenceSteps, notInitialized, type Scheduler } from "./scheduler.ts";

/**
 * Euler (Algorithm 2 of Karras et al. 2022, https://arxiv.org/abs/2206.00364), ported from diffusers'
 * `EulerDiscreteScheduler` with s_churn = 0 (deterministic). Where SD 1.5's config is silent we keep
 * EulerDiscreteScheduler's defaults: timestep_spacing "linspace" (so steps_offset has no effect),
 * interpolation_type "linear", no Karras sigmas, timestep_type "discrete", final_sigmas_type "zero".
 *
 * The sample lives in the variance-exploding parameterisation x = x_0 + σ·ε; the UNet sees x/sqrt(σ²+1).
 */

/** np.linspace(start, stop, num): start + i·(stop − start)/(num − 1), the last entry exactly stop. */
function linspace(start: number, stop: number, num: number): number[] {
  if (num === 1) return [start];
  const step = (stop - start) / (num - 1);
  return Array.from({ length: num }, (_, i) => (i === num - 1 ? stop : start + i * step));
}

/** np.interp(x, [0, 1, …, n−1], fp): piecewise-linear lookup on the integer grid. */
function interp(x: number, fp: Float64Array): number {
  if (x <= 0) return fp[0];
  if (x >= fp.length - 1) return fp[fp.length - 1];
  const lo = Math.floor(x);
  return fp[lo] + (x - lo) * (fp[lo + 1] - fp[lo]);
}

export class EulerDiscreteScheduler implements Scheduler {
  private readonly trainSigmas: Float64Array;
  private schedule: number[] = [];
  private sigmaSchedule: number[] = [];

  constructor(private readonly config: SchedulerConfig) {
    this.trainSigmas = trainSigmas(alphasCumprod(config));
  }

  get timesteps(): readonly number[] {
    return this.schedule;
  }

  /** σ of each timestep, then the final σ (diffusers' `sigmas`); empty until setTimesteps. */
  get sigmas(): readonly number[] {
    return this.sigmaSchedule;
  }

  /**
   * diffusers: σ_max for "linspace" and "trailing" spacing, sqrt(σ_max² + 1) for "leading".
   * Before setTimesteps, the training schedule's σ_max, as diffusers' `__init__` leaves it.
   */
  get initNoiseSigma(): number {
    return this.sigmaSchedule.length > 0 ? Math.max(...this.sigmaSchedule) : this.trainSigmas[this.trainSigmas.length - 1];
  }

  setTimesteps(numInferenceSteps: number): void {
    const T = this.config.numTrainTimesteps;
    assertNumInferenceSteps(numInferenceSteps, T);
    // "linspace" spacing, descending; float32 as diffusers keeps them, so σ is read at the exact
    // timestep the UNet will see
    this.schedule = linspace(0, T - 1, numInferenceSteps).map(Math.fround).reverse();
    this.sigmaSchedule = [...this.schedule.map((t) => interp(t, this.trainSigmas)), 0];
  }

  /** x / sqrt(σ² + 1): the VP-scaled input the UNet was trained on. */
  scaleModelInput(sample: Float32Array, timestep: number): Float32Array {
    const sigma = this.sigmaSchedule[this.stepIndex(timestep)];
    const scale = 1 / Math.sqrt(sigma * sigma + 1);
    return sample.map((v) => v * scale);
  }

  step(modelOutput: Float32Array, timestep: number, sample: Float32Array): Float32Array<ArrayBuffer> {
    // 1. locate the step (diffusers' index_for_timestep); γ = 0 without churn, so σ̂ = σ and no noise is added
    const stepIndex = this.stepIndex(timestep);
    const sigmaHat = this.sigmaSchedule[stepIndex];
    const dt = this.sigmaSchedule[stepIndex + 1] - sigmaHat;

    const prevSample = new Float32Array(sample.length);
    for (let i = 0; i < sample.length; i++) {
      // 2. compute predicted original sample (x_0) from sigma-scaled predicted noise
      const predOriginalSample = sample[i] - sigmaHat * modelOutput[i];
      // 3. convert to an ODE derivative
      const derivative = (sample[i] - predOriginalSample) / sigmaHat;
      // 4. take the Euler step from σ to the next σ
      prevSample[i] = sample[i] + derivative * dt;
    }
    return prevSample;
  }

  private stepIndex(timestep: number): number {
    if (this.schedule.length === 0) throw notInitialized("EulerDiscreteScheduler");
    const index = this.schedule.indexOf(timestep);
    if (index < 0) throw new RangeError(`EulerDiscreteScheduler: timestep ${timestep} is not in the schedule.`);
    return index;
  }
}
