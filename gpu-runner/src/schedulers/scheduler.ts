import type { SCHEDULERS } from "@troupe/shared/contracts/generation";

/** The schedulers a job may ask for (DESIGN §2), one source of truth with the API contract. */
export type SchedulerName = (typeof SCHEDULERS)[number];

/**
 * One denoising scheduler, shaped like diffusers' `set_timesteps` / `scale_model_input` / `step`.
 * Samples are flat Float32Arrays (a latent [N,4,h,w] or any shape): every operation is elementwise.
 * Inputs are never mutated; `step` and `scaleModelInput` return new arrays (or the input itself
 * where diffusers' scaling is the identity).
 */
export interface Scheduler {
  /**
   * The UNet timestep of each loop iteration, in order, empty until `setTimesteps`.
   * PNDM (PLMS) yields steps + 1 entries with its second entry repeated, as diffusers does.
   */
  readonly timesteps: readonly number[];
  /** Standard deviation of the initial latents: multiply N(0,1) noise by this. */
  readonly initNoiseSigma: number;
  /** Builds the schedule for `numInferenceSteps` (an integer in 1..numTrainTimesteps) and resets all state. */
  setTimesteps(numInferenceSteps: number): void;
  /** The UNet input for `sample` at `timestep`. */
  scaleModelInput(sample: Float32Array, timestep: number): Float32Array;
  /** x_{t−1} (a fresh array) from the model's ε prediction at `timestep`. Throws if `setTimesteps` was not called. */
  step(modelOutput: Float32Array, timestep: number, sample: Float32Array): Float32Array<ArrayBuffer>;
}

/** Every scheduler rejects a step count it cannot schedule, as diffusers raises ValueError. */
export function assertNumInferenceSteps(numInferenceSteps: number, numTrainTimesteps: number): void {
  if (!Number.isInteger(numInferenceSteps) || numInferenceSteps < 1 || numInferenceSteps > numTrainTimesteps) {
    throw new RangeError(`numInferenceSteps must be an integer in 1..${numTrainTimesteps}, got ${numInferenceSteps}.`);
  }
}

/** diffusers: "Number of inference steps is 'None', you need to run 'set_timesteps' after creating the scheduler". */
export function notInitialized(name: string): Error {
  return new Error(`${name}: call setTimesteps() first.`);
}
