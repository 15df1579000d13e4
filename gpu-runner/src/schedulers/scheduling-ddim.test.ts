import { SD15_SCHEDULER_CONFIG } from "@troupe/shared/contracts/manifest";
import { describe, expect, it } from "vitest";
import { diffusersDummyModel, diffusersDummySample, runSchedulerContract, sumAbs } from "./scheduler.contract.ts";
import { DdimScheduler } from "./scheduling-ddim.ts";

runSchedulerContract("ddim", { create: (config) => new DdimScheduler(config) });

/**
 * Golden values for SD 1.5's config, derived from diffusers' DDIMScheduler ("leading" spacing):
 * t_i = i·⌊1000/n⌋ + steps_offset(1), descending. ᾱ_t = ∏_{s≤t}(1 − β_s) with
 * β = linspace(sqrt(0.00085), sqrt(0.012), 1000)², worked out in float64 with numpy
 * (diffusers' float32 torch values agree to 2e-6 relative).
 */
const ALPHA_BAR = { 961: 0.007281727140942984, 981: 0.005775500139495751 };

describe("DdimScheduler golden values (SD 1.5)", () => {
  it("schedules 10 and 50 steps like diffusers", () => {
    const scheduler = new DdimScheduler(SD15_SCHEDULER_CONFIG);
    scheduler.setTimesteps(10);
    expect(scheduler.timesteps).toEqual([901, 801, 701, 601, 501, 401, 301, 201, 101, 1]);
    scheduler.setTimesteps(50);
    expect(scheduler.timesteps).toEqual(Array.from({ length: 50 }, (_, i) => 981 - 20 * i));
    // diffusers' test_steps_offset: 5 steps with steps_offset 1
    scheduler.setTimesteps(5);
    expect(scheduler.timesteps).toEqual([801, 601, 401, 201, 1]);
  });

  it("takes one step by formula (12) with eta = 0", () => {
    const scheduler = new DdimScheduler(SD15_SCHEDULER_CONFIG);
    scheduler.setTimesteps(50);
    const sample = Float32Array.of(0.5, -1, 2, 0);
    const eps = Float32Array.of(0.1, 0.2, -0.3, 1);
    const [a, aPrev] = [ALPHA_BAR[981], ALPHA_BAR[961]];
    const expected = [...sample].map((x, i) => {
      const x0 = (x - Math.sqrt(1 - a) * eps[i]) / Math.sqrt(a);
      return Math.sqrt(aPrev) * x0 + Math.sqrt(1 - aPrev) * eps[i];
    });
    const out = scheduler.step(eps, 981, sample);
    out.forEach((v, i) => expect(v).toBeCloseTo(expected[i], 4));
  });

  it("ends on ᾱ_0 of SD 1.5 when set_alpha_to_one is false", () => {
    const scheduler = new DdimScheduler(SD15_SCHEDULER_CONFIG);
    scheduler.setTimesteps(50);
    // from t = 1 the previous timestep is −19 < 0: ᾱ_prev = ᾱ_0 = 1 − 0.00085; with ε = 0 the sample scales by sqrt(ᾱ_0/ᾱ_1)
    const out = scheduler.step(Float32Array.of(0), 1, Float32Array.of(1));
    expect(out[0]).toBeCloseTo(Math.sqrt(0.99915 / 0.998296027838451), 6);
  });

  it("reproduces diffusers' test_full_loop_no_noise (linear betas, 10 steps)", () => {
    // tests/schedulers/test_scheduler_ddim.py: sum 172.0067, mean 0.223967 (clip_sample never triggers here)
    const config = { ...SD15_SCHEDULER_CONFIG, betaStart: 0.0001, betaEnd: 0.02, betaSchedule: "linear" as const, stepsOffset: 0 };
    const scheduler = new DdimScheduler(config);
    scheduler.setTimesteps(10);
    let sample = diffusersDummySample();
    for (const t of scheduler.timesteps) sample = scheduler.step(diffusersDummyModel(sample, t), t, sample);
    expect(Math.abs(sumAbs(sample) - 172.0067)).toBeLessThan(1e-2);
    expect(Math.abs(sumAbs(sample) / sample.length - 0.223967)).toBeLessThan(1e-3);
  });
});
