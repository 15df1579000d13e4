import type { SchedulerConfig } from "@troupe/shared/contracts/manifest";
import { alphasCumprod, trainSigmas } from "./betas.ts";
import { assertNumInferenceSteps, notInitialized, type Scheduler } from "./scheduler.ts";

/**
 * DPM-Solver++(2M) (Lu et al. 2022, https://arxiv.org/abs/2211.01095), ported from diffusers'
 * `DPMSolverMultistepScheduler` with algorithm_type "dpmsolver++", solver_order 2, solver_type "midpoint".
 * Where SD 1.5's config is silent we keep DPMSolverMultistepScheduler's defaults: timestep_spacing
 * "linspace" (so steps_offset has no effect), lower_order_final true, euler_at_final false,
 * final_sigmas_type "zero", no Karras/Lu sigmas, lambda_min_clipped −∞, thresholding false.
 */

export interface DpmSolverMultistepOptions {
  /** Use first order for the last step(s) when fewer than 15 steps. @default true */
  readonly lowerOrderFinal?: boolean;
  /** σ after the last step: 0 (ends on the x_0 prediction) or σ_min of training. @default "zero" */
  readonly finalSigmasType?: "zero" | "sigma_min";
}

// Copied from ./scheduling-euler-discrete.ts (linspace)
/** np.linspace(start, stop, num): start + i·(stop − start)/(num − 1), the last entry exactly stop. */
function linspace(start: number, stop: number, num: number): number[] {
  if (num === 1) return [start];
  const step = (stop - start) / (num - 1);
  return Array.from({ length: num }, (_, i) => (i === num - 1 ? stop : start + i * step));
}

// Copied from ./scheduling-euler-discrete.ts (interp)
/** np.interp(x, [0, 1, …, n−1], fp): piecewise-linear lookup on the integer grid. */
function interp(x: number, fp: Float64Array): number {
  if (x <= 0) return fp[0];
  if (x >= fp.length - 1) return fp[fp.length - 1];
  const lo = Math.floor(x);
  return fp[lo] + (x - lo) * (fp[lo + 1] - fp[lo]);
}

/** np.round: halves go to the even neighbour (499.5 → 500, 500.5 → 500). */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** VP coefficients of a VE noise level: α_t = 1/sqrt(σ² + 1), σ_t = σ·α_t, λ_t = log(α_t) − log(σ_t). */
function alphaSigmaLambda(sigma: number): { alpha: number; sigmaT: number; lambda: number } {
  const alpha = 1 / Math.sqrt(sigma * sigma + 1);
  const sigmaT = sigma * alpha;
  // σ = 0 gives λ = +∞ and exp(−h) = 0: the first-order update then returns the x_0 prediction exactly
  return { alpha, sigmaT, lambda: Math.log(alpha) - Math.log(sigmaT) };
}

export class DpmSolverMultistepScheduler implements Scheduler {
  readonly initNoiseSigma = 1;
  private readonly trainSigmas: Float64Array;
  private readonly lowerOrderFinal: boolean;
  private readonly finalSigmasType: "zero" | "sigma_min";
  private schedule: number[] = [];
  /** σ for each timestep, then the final σ. */
  private sigmaSchedule: number[] = [];
  // running values, reset by setTimesteps: the last two x_0 predictions, oldest first
  private modelOutputs: Float32Array[] = [];
  private lowerOrderNums = 0;

  constructor(
    private readonly config: SchedulerConfig,
    options: DpmSolverMultistepOptions = {},
  ) {
    this.trainSigmas = trainSigmas(alphasCumprod(config));
    this.lowerOrderFinal = options.lowerOrderFinal ?? true;
    this.finalSigmasType = options.finalSigmasType ?? "zero";
  }

  get timesteps(): readonly number[] {
    return this.schedule;
  }

  /** σ of each timestep, then the final σ (diffusers' `sigmas`); empty until setTimesteps. */
  get sigmas(): readonly number[] {
    return this.sigmaSchedule;
  }

  setTimesteps(numInferenceSteps: number): void {
    const T = this.config.numTrainTimesteps;
    assertNumInferenceSteps(numInferenceSteps, T);
    // "linspace" spacing over n + 1 points, rounded, descending, the final 0 dropped
    this.schedule = linspace(0, T - 1, numInferenceSteps + 1).map(roundHalfEven).reverse().slice(0, -1);
    const sigmaLast = this.finalSigmasType === "zero" ? 0 : this.trainSigmas[0];
    this.sigmaSchedule = [...this.schedule.map((t) => interp(t, this.trainSigmas)), sigmaLast];
    this.modelOutputs = [];
    this.lowerOrderNums = 0;
  }

  /** DPM-Solver needs no input scaling. */
  scaleModelInput(sample: Float32Array, _timestep: number): Float32Array {
    return sample;
  }

  step(modelOutput: Float32Array, timestep: number, sample: Float32Array): Float32Array<ArrayBuffer> {
    // 1. locate the step; the last step is first order when σ_next = 0 (λ = ∞ breaks the 2nd-order term)
    const stepIndex = this.stepIndex(timestep);
    const isLast = stepIndex === this.schedule.length - 1;
    const lowerOrderFinal = isLast && ((this.lowerOrderFinal && this.schedule.length < 15) || this.finalSigmasType === "zero");
    // (diffusers' lower_order_second only changes third-order solvers)

    // 2. convert the ε prediction to the data prediction x_0 DPM-Solver++ integrates
    const s0 = alphaSigmaLambda(this.sigmaSchedule[stepIndex]);
    const x0Pred = new Float32Array(sample.length);
    for (let i = 0; i < sample.length; i++) x0Pred[i] = (sample[i] - s0.sigmaT * modelOutput[i]) / s0.alpha;
    this.modelOutputs = [...this.modelOutputs.slice(-1), x0Pred];

    // 3. first order (= DDIM) to start and to finish, second-order multistep in between
    const prevSample =
      this.lowerOrderNums < 1 || lowerOrderFinal
        ? this.firstOrderUpdate(x0Pred, stepIndex, sample)
        : this.secondOrderUpdate(this.modelOutputs, stepIndex, sample);
    if (this.lowerOrderNums < 2) this.lowerOrderNums += 1;
    return prevSample;
  }

  /** x_t = (σ_t/σ_s)·x_s − α_t·(e^{−h} − 1)·x_0, h = λ_t − λ_s. */
  private firstOrderUpdate(x0Pred: Float32Array, stepIndex: number, sample: Float32Array): Float32Array<ArrayBuffer> {
    const t = alphaSigmaLambda(this.sigmaSchedule[stepIndex + 1]);
    const s = alphaSigmaLambda(this.sigmaSchedule[stepIndex]);
    const h = t.lambda - s.lambda;
    const sampleCoeff = t.sigmaT / s.sigmaT;
    const x0Coeff = t.alpha * (Math.exp(-h) - 1);
    const out = new Float32Array(sample.length);
    for (let i = 0; i < sample.length; i++) out[i] = sampleCoeff * sample[i] - x0Coeff * x0Pred[i];
    return out;
  }

  /** Midpoint 2M: D0 = m0, D1 = (m0 − m1)/r0, x_t = (σ_t/σ_s0)·x − α_t(e^{−h} − 1)·(D0 + D1/2). */
  private secondOrderUpdate(modelOutputs: Float32Array[], stepIndex: number, sample: Float32Array): Float32Array<ArrayBuffer> {
    const t = alphaSigmaLambda(this.sigmaSchedule[stepIndex + 1]);
    const s0 = alphaSigmaLambda(this.sigmaSchedule[stepIndex]);
    const s1 = alphaSigmaLambda(this.sigmaSchedule[stepIndex - 1]);
    const [m1, m0] = modelOutputs;
    const h = t.lambda - s0.lambda;
    const r0 = (s0.lambda - s1.lambda) / h;
    const sampleCoeff = t.sigmaT / s0.sigmaT;
    const dCoeff = t.alpha * (Math.exp(-h) - 1);
    const out = new Float32Array(sample.length);
    for (let i = 0; i < sample.length; i++) {
      const d0 = m0[i];
      const d1 = (1 / r0) * (m0[i] - m1[i]);
      out[i] = sampleCoeff * sample[i] - dCoeff * d0 - 0.5 * dCoeff * d1;
    }
    return out;
  }

  /** diffusers' index_for_timestep; the rounded timesteps are distinct for n < T (spacing ≥ 1). */
  private stepIndex(timestep: number): number {
    if (this.schedule.length === 0) throw notInitialized("DpmSolverMultistepScheduler");
    const index = this.schedule.indexOf(timestep);
    if (index < 0) throw new RangeError(`DpmSolverMultistepScheduler: timestep ${timestep} is not in the schedule.`);
    return index;
  }
}
