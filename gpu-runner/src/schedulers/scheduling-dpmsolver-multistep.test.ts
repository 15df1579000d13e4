import { SD15_SCHEDULER_CONFIG } from "@troupe/shared/contracts/manifest";
import { describe, expect, it } from "vitest";
import { diffusersDummyModel, diffusersDummySample, runSchedulerContract, sumAbs } from "./scheduler.contract.ts";
import { DpmSolverMultistepScheduler } from "./scheduling-dpmsolver-multistep.ts";

runSchedulerContract("dpmpp-2m", { create: (config) => new DpmSolverMultistepScheduler(config) });

/**
 * Golden values for SD 1.5's config, derived from diffusers' DPMSolverMultistepScheduler ("linspace"):
 * timesteps = round(linspace(0, 999, n + 1))[::-1][:-1] with numpy's half-to-even rounding
 * (499.5 → 500); σ = interp(t, 0..999, sqrt((1 − ᾱ)/ᾱ)) then a final 0 (final_sigmas_type "zero").
 * Worked out with numpy; ᾱ in float64 (diffusers' float32 values agree to 2e-6 relative).
 */
const SIGMAS_10 = [14.614655, 8.3028107, 5.0877671, 3.321085, 2.2764637, 1.6182793, 1.1643916, 0.8327527, 0.57166618, 0.3439317, 0];
const ALPHA_BAR = { 799: 0.03719499978868227, 899: 0.014298676888235697, 999: 0.004660098513077238 };

/** VP view of ᾱ: α = sqrt(ᾱ), σ = sqrt(1 − ᾱ), λ = log(α/σ). */
const vp = (alphaBar: number) => {
  const [alpha, sigma] = [Math.sqrt(alphaBar), Math.sqrt(1 - alphaBar)];
  return { alpha, sigma, lambda: Math.log(alpha / sigma) };
};

describe("DpmSolverMultistepScheduler golden values (SD 1.5)", () => {
  it("schedules 10 and 50 steps: timesteps and sigmas", () => {
    const scheduler = new DpmSolverMultistepScheduler(SD15_SCHEDULER_CONFIG);
    scheduler.setTimesteps(10);
    expect(scheduler.timesteps).toEqual([999, 899, 799, 699, 599, 500, 400, 300, 200, 100]);
    scheduler.sigmas.forEach((v, i) => expect(Math.abs(v - SIGMAS_10[i])).toBeLessThanOrEqual(1e-5 * SIGMAS_10[i]));
    expect(scheduler.sigmas).toHaveLength(11);
    scheduler.setTimesteps(50);
    const up = [...Array.from({ length: 25 }, (_, i) => 999 - 20 * i), ...Array.from({ length: 25 }, (_, i) => 500 - 20 * i)];
    expect(scheduler.timesteps).toEqual(up); // 999, 979, …, 519, then 500 (round-half-even of 499.5), 480, …, 20
    expect(scheduler.initNoiseSigma).toBe(1);
  });

  it("takes a first-order step (= DDIM), then a midpoint 2M step", () => {
    const scheduler = new DpmSolverMultistepScheduler(SD15_SCHEDULER_CONFIG);
    scheduler.setTimesteps(10);
    const x999 = Float32Array.of(0.5, -1, 2, 0);
    const e0 = Float32Array.of(0.1, 0.2, -0.3, 1);
    const e1 = Float32Array.of(-0.4, 0.3, 0.2, 0.5);
    const [s1, s0, t] = [vp(ALPHA_BAR[999]), vp(ALPHA_BAR[899]), vp(ALPHA_BAR[799])];

    // 1. 999 → 899, first order: x_t = α_t·x̂_0 + σ_t·ε, the DDIM step
    const m1 = [...x999].map((x, i) => (x - s1.sigma * e0[i]) / s1.alpha);
    const x899 = scheduler.step(e0, 999, x999);
    x899.forEach((v, i) => expect(v).toBeCloseTo(s0.alpha * m1[i] + s0.sigma * e0[i], 4));

    // 2. 899 → 799, DPM-Solver++(2M) midpoint: D = m0 + (m0 − m1)/(2·r0), r0 = (λ_s0 − λ_s1)/h
    const m0 = [...x899].map((x, i) => (x - s0.sigma * e1[i]) / s0.alpha);
    const h = t.lambda - s0.lambda;
    const r0 = (s0.lambda - s1.lambda) / h;
    const expected = [...x899].map((x, i) => (t.sigma / s0.sigma) * x - t.alpha * (Math.exp(-h) - 1) * (m0[i] + (m0[i] - m1[i]) / (2 * r0)));
    scheduler.step(e1, 899, x899).forEach((v, i) => expect(v).toBeCloseTo(expected[i], 4));
  });

  it("ends exactly on the x_0 prediction (σ_final = 0 forces a first-order last step)", () => {
    const scheduler = new DpmSolverMultistepScheduler(SD15_SCHEDULER_CONFIG);
    scheduler.setTimesteps(3);
    const eps = Float32Array.of(0.2, -0.1);
    let x = Float32Array.of(1, -1);
    for (const t of scheduler.timesteps.slice(0, -1)) x = scheduler.step(eps, t, x);
    const last = scheduler.timesteps[2];
    const sigma = scheduler.sigmas[2];
    const [alpha, sigmaT] = [1 / Math.sqrt(sigma * sigma + 1), sigma / Math.sqrt(sigma * sigma + 1)];
    const out = scheduler.step(eps, last, x);
    out.forEach((v, i) => expect(v).toBeCloseTo((x[i] - sigmaT * eps[i]) / alpha, 5));
  });

  it("reproduces diffusers' test_full_loop_no_noise (linear betas, σ_min final, no lower-order final)", () => {
    // tests/schedulers/test_scheduler_dpm_multi.py: mean 0.3301 with final_sigmas_type "sigma_min", lower_order_final false
    const config = { ...SD15_SCHEDULER_CONFIG, betaStart: 0.0001, betaEnd: 0.02, betaSchedule: "linear" as const, stepsOffset: 0 };
    const scheduler = new DpmSolverMultistepScheduler(config, { finalSigmasType: "sigma_min", lowerOrderFinal: false });
    scheduler.setTimesteps(10);
    let sample = diffusersDummySample();
    for (const t of scheduler.timesteps) sample = scheduler.step(diffusersDummyModel(sample, t), t, sample);
    expect(Math.abs(sumAbs(sample) / sample.length - 0.3301)).toBeLessThan(1e-3);
  });
});
