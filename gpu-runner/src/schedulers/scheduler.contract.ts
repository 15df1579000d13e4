import { SD15_SCHEDULER_CONFIG, type SchedulerConfig } from "@troupe/shared/contracts/manifest";
import { describe, expect, it } from "vitest";
import { alphasCumprod, trainSigmas } from "./betas.ts";
import type { Scheduler } from "./scheduler.ts";

/**
 * The contract every scheduler passes, run from each scheduler's test file in a few lines
 * (like Hono's router/common.case.test.ts). Not a *.test.ts itself, so it runs once per scheduler.
 */
export interface SchedulerContractOptions {
  /** A fresh scheduler on the given config. */
  create: (config: SchedulerConfig) => Scheduler;
  /**
   * PNDM (PLMS) yields steps + 1 timesteps with its second entry repeated (diffusers' second-order
   * start); every other scheduler yields exactly `steps` strictly decreasing timesteps.
   */
  repeatsSecondTimestep?: boolean;
}

const STEP_COUNTS = [1, 2, 3, 10, 25, 50, 150];

/** A fixed, bounded pattern in [−1, 1]: the same on every run, independent of the noise generator. */
const pattern = (length: number, phase: number) => Float32Array.from({ length }, (_, i) => Math.sin(i * 1.7 + phase));

/**
 * ᾱ at a (possibly fractional) timestep, read the way the schedulers read σ: σ interpolated linearly
 * on the training grid, ᾱ = 1/(1 + σ²). At integer t this is exactly alphas_cumprod[t].
 */
function alphaBarAt(config: SchedulerConfig, t: number): number {
  const sigmas = trainSigmas(alphasCumprod(config));
  const lo = Math.min(Math.floor(t), sigmas.length - 2);
  const sigma = sigmas[lo] + (t - lo) * (sigmas[lo + 1] - sigmas[lo]);
  return 1 / (1 + sigma * sigma);
}

/** Runs the whole loop with a model that predicts the true noise of x0: ε = (x_t − sqrt(ᾱ_t)·x0)/sqrt(1 − ᾱ_t). */
function denoiseWithOracle(scheduler: Scheduler, config: SchedulerConfig, steps: number, x0: Float32Array, noise: Float32Array): Float32Array {
  scheduler.setTimesteps(steps);
  let x = noise.map((v) => v * scheduler.initNoiseSigma);
  for (const t of scheduler.timesteps) {
    const input = scheduler.scaleModelInput(x, t);
    const a = alphaBarAt(config, t);
    const eps = input.map((v, i) => (v - Math.sqrt(a) * x0[i]) / Math.sqrt(1 - a));
    x = scheduler.step(eps, t, x);
  }
  return x;
}

/** Runs `count` steps with a simple deterministic model and returns every intermediate sample. */
function trajectory(scheduler: Scheduler, steps: number, count = Infinity): Float32Array[] {
  scheduler.setTimesteps(steps);
  let x = pattern(32, 0).map((v) => v * scheduler.initNoiseSigma);
  const out: Float32Array[] = [];
  for (const t of scheduler.timesteps.slice(0, count)) {
    const input = scheduler.scaleModelInput(x, t);
    x = scheduler.step(input.map((v, i) => 0.9 * v + 0.1 * Math.cos(i + t)), t, x);
    out.push(x);
  }
  return out;
}

export function runSchedulerContract(name: string, { create, repeatsSecondTimestep = false }: SchedulerContractOptions): void {
  const config = SD15_SCHEDULER_CONFIG;

  describe(`${name}: scheduler contract`, () => {
    it("throws from step before setTimesteps", () => {
      const scheduler = create(config);
      expect(scheduler.timesteps).toHaveLength(0);
      expect(() => scheduler.step(new Float32Array(4), 981, new Float32Array(4))).toThrow(/setTimesteps/);
    });

    it("rejects step counts it cannot schedule", () => {
      const scheduler = create(config);
      for (const n of [0, -1, 2.5, config.numTrainTimesteps + 1]) expect(() => scheduler.setTimesteps(n)).toThrow(RangeError);
    });

    it.each(STEP_COUNTS)("schedules %i steps as decreasing timesteps within the training range", (steps) => {
      const scheduler = create(config);
      scheduler.setTimesteps(steps);
      const ts = [...scheduler.timesteps];
      const distinct = repeatsSecondTimestep && steps > 1 ? [ts[0], ...ts.slice(2)] : ts;
      if (repeatsSecondTimestep && steps > 1) expect(ts[2]).toBe(ts[1]);
      expect(distinct).toHaveLength(steps);
      for (let i = 1; i < distinct.length; i++) expect(distinct[i]).toBeLessThan(distinct[i - 1]);
      for (const t of ts) {
        expect(t).toBeGreaterThanOrEqual(0);
        expect(t).toBeLessThanOrEqual(config.numTrainTimesteps - 1);
      }
      expect(scheduler.initNoiseSigma).toBeGreaterThan(0);
    });

    it("is deterministic and keeps the sample length, without mutating its inputs", () => {
      const a = trajectory(create(config), 10);
      const b = trajectory(create(config), 10);
      expect(a).toEqual(b);
      for (const x of a) expect(x).toHaveLength(32);

      const scheduler = create(config);
      scheduler.setTimesteps(10);
      const t = scheduler.timesteps[0];
      const sample = pattern(8, 1);
      const output = pattern(8, 2);
      const [sampleCopy, outputCopy] = [sample.slice(), output.slice()];
      expect(scheduler.scaleModelInput(sample, t)).toHaveLength(8);
      expect(scheduler.step(output, t, sample)).toHaveLength(8);
      expect(sample).toEqual(sampleCopy);
      expect(output).toEqual(outputCopy);
    });

    it.each([10, 50])("ends close to x0 when the model predicts the true noise (%i steps)", (steps) => {
      const x0 = pattern(64, 0.3);
      const noise = pattern(64, 2.1);
      const x = denoiseWithOracle(create(config), config, steps, x0, noise);
      // DDIM/PNDM stop at ᾱ_0 = 0.99915 (set_alpha_to_one false): sqrt(1 − ᾱ_0)·|ε| ≤ 0.03 is left
      for (let i = 0; i < x.length; i++) expect(Math.abs(x[i] - x0[i])).toBeLessThan(0.05);
    });

    it("resets its state on setTimesteps", () => {
      const scheduler = create(config);
      trajectory(scheduler, 20, 5); // leave a partial run behind, history and counters included
      trajectory(scheduler, 7, 3);
      expect(trajectory(scheduler, 10)).toEqual(trajectory(create(config), 10));
    });
  });
}

/**
 * diffusers' scheduler-test fixtures (tests/schedulers/test_schedulers.py): `dummy_sample_deter` is
 * arange(4·3·8·8)/768 in a permuted [4,3,8,8] layout, and `dummy_model` returns sample·t/(t + 1).
 * Every op is elementwise and the tests compare sum/mean of |x|, so the flat order does not matter and
 * their published full-loop values apply here unchanged.
 */
export const diffusersDummySample = () => Float32Array.from({ length: 768 }, (_, k) => k / 768);
export const diffusersDummyModel = (sample: Float32Array, t: number) => sample.map((v) => (v * t) / (t + 1));
export const sumAbs = (x: Float32Array) => x.reduce((s, v) => s + Math.abs(v), 0);
