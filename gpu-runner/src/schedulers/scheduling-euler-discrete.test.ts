import { SD15_SCHEDULER_CONFIG } from "@troupe/shared/contracts/manifest";
import { describe, expect, it } from "vitest";
import { diffusersDummyModel, diffusersDummySample, runSchedulerContract, sumAbs } from "./scheduler.contract.ts";
import { EulerDiscreteScheduler } from "./scheduling-euler-discrete.ts";

runSchedulerContract("euler", { create: (config) => new EulerDiscreteScheduler(config) });

/**
 * Golden values for SD 1.5's config, derived from diffusers' EulerDiscreteScheduler ("linspace"):
 * timesteps = float32(linspace(0, 999, n))[::-1]; σ = interp(t, 0..999, sqrt((1 − ᾱ)/ᾱ)) then a final 0;
 * init_noise_sigma = max σ (diffusers returns the bare σ_max for "linspace"/"trailing" spacing and
 * sqrt(σ_max² + 1) only for "leading"). Worked out with numpy; σ_max = 14.6146 and σ(0) = 0.0292 are
 * k-diffusion's well-known SD sigma_max / sigma_min.
 */
const SIGMAS_10 = [14.614655, 7.8398895, 4.6091776, 2.9183085, 1.9501621, 1.3449283, 0.93235815, 0.62497711, 0.36865818, 0.029167533, 0];

const expectClose = (actual: readonly number[], expected: readonly number[], relative = 1e-5) => {
  expect(actual).toHaveLength(expected.length);
  actual.forEach((v, i) => expect(Math.abs(v - expected[i])).toBeLessThanOrEqual(relative * Math.abs(expected[i]) + 1e-7));
};

describe("EulerDiscreteScheduler golden values (SD 1.5)", () => {
  it("schedules 10 steps: timesteps and sigmas", () => {
    const scheduler = new EulerDiscreteScheduler(SD15_SCHEDULER_CONFIG);
    scheduler.setTimesteps(10);
    expect(scheduler.timesteps).toEqual([999, 888, 777, 666, 555, 444, 333, 222, 111, 0]);
    expectClose(scheduler.sigmas, SIGMAS_10);
    expect(scheduler.initNoiseSigma).toBeCloseTo(14.614655, 4);
  });

  it("schedules 50 steps: float32 timesteps and sigmas", () => {
    const scheduler = new EulerDiscreteScheduler(SD15_SCHEDULER_CONFIG);
    scheduler.setTimesteps(50);
    expect(scheduler.timesteps.slice(0, 3)).toEqual([999, 978.6122436523438, 958.2244873046875]);
    expect(scheduler.timesteps.slice(-2)).toEqual([20.387754440307617, 0]);
    expectClose([0, 1, 25, 48, 49, 50].map((i) => scheduler.sigmas[i]), [14.614655, 12.936786, 1.5616592, 0.13933729, 0.029167533, 0]);
    expect(scheduler.initNoiseSigma).toBeCloseTo(14.6146, 4);
  });

  it("scales the model input by 1/sqrt(σ² + 1)", () => {
    const scheduler = new EulerDiscreteScheduler(SD15_SCHEDULER_CONFIG);
    scheduler.setTimesteps(10);
    const scaled = scheduler.scaleModelInput(Float32Array.of(1, -2), 999);
    expect(scaled[0]).toBeCloseTo(1 / Math.sqrt(14.614655 ** 2 + 1), 6);
    expect(scaled[1]).toBeCloseTo(-2 / Math.sqrt(14.614655 ** 2 + 1), 6);
    expect(() => scheduler.scaleModelInput(Float32Array.of(1), 998)).toThrow(RangeError);
  });

  it("takes one Euler step: x + ε·(σ_next − σ)", () => {
    const scheduler = new EulerDiscreteScheduler(SD15_SCHEDULER_CONFIG);
    scheduler.setTimesteps(10);
    const sample = Float32Array.of(10, -5, 0.5, 0);
    const eps = Float32Array.of(0.1, 0.2, -0.3, 1);
    const out = scheduler.step(eps, 888, sample);
    out.forEach((v, i) => expect(v).toBeCloseTo(sample[i] + eps[i] * (SIGMAS_10[2] - SIGMAS_10[1]), 4));
  });

  it("reproduces diffusers' test_full_loop_no_noise (1100 linear betas, 10 steps)", () => {
    // tests/schedulers/test_scheduler_euler.py: sum 10.0807, mean 0.0131. The test feeds the *scaled*
    // sample to step, a quirk of that test reproduced here.
    const config = { ...SD15_SCHEDULER_CONFIG, numTrainTimesteps: 1100, betaStart: 0.0001, betaEnd: 0.02, betaSchedule: "linear" as const };
    const scheduler = new EulerDiscreteScheduler(config);
    scheduler.setTimesteps(10);
    let sample: Float32Array = diffusersDummySample().map((v) => v * scheduler.initNoiseSigma);
    for (const t of scheduler.timesteps) {
      sample = scheduler.scaleModelInput(sample, t);
      sample = scheduler.step(diffusersDummyModel(sample, t), t, sample);
    }
    expect(Math.abs(sumAbs(sample) - 10.0807)).toBeLessThan(1e-2);
    expect(Math.abs(sumAbs(sample) / sample.length - 0.0131)).toBeLessThan(1e-3);
  });
});
