import { SD15_SCHEDULER_CONFIG } from "@troupe/shared/contracts/manifest";
import { describe, expect, it } from "vitest";
import { runSchedulerContract } from "./scheduler.contract.ts";
import { DdimScheduler } from "./scheduling-ddim.ts";
import { PndmScheduler } from "./scheduling-pndm.ts";

runSchedulerContract("pndm", { create: (config) => new PndmScheduler(config), repeatsSecondTimestep: true });

/**
 * Golden values for SD 1.5's config, derived from diffusers' PNDMScheduler (skip_prk_steps, "leading"):
 * _timesteps = i·⌊1000/n⌋ + 1; plms_timesteps = concat(_t[:-1], _t[-2:-1], _t[-1:])[::-1].
 * ᾱ_t worked out in float64 with numpy from β = linspace(sqrt(0.00085), sqrt(0.012), 1000)²
 * (diffusers' float32 values agree to 2e-6 relative).
 */
const ALPHA_BAR = {
  901: 0.014004897893943923,
  921: 0.011337911568707828,
  941: 0.009117309801963751,
  961: 0.007281727140942984,
  981: 0.005775500139495751,
};

/** DDIM (η = 0) from ᾱ_t to ᾱ_prev: what PNDM's formula (9) reduces to. */
const ddimStep = (x: number, eps: number, a: number, aPrev: number) =>
  Math.sqrt(aPrev) * ((x - Math.sqrt(1 - a) * eps) / Math.sqrt(a)) + Math.sqrt(1 - aPrev) * eps;

describe("PndmScheduler golden values (SD 1.5)", () => {
  it("schedules 10 and 50 steps like diffusers, the second timestep repeated", () => {
    const scheduler = new PndmScheduler(SD15_SCHEDULER_CONFIG);
    scheduler.setTimesteps(10);
    expect(scheduler.timesteps).toEqual([901, 801, 801, 701, 601, 501, 401, 301, 201, 101, 1]);
    scheduler.setTimesteps(50);
    expect(scheduler.timesteps).toEqual([981, 961, 961, ...Array.from({ length: 48 }, (_, i) => 941 - 20 * i)]);
    expect(scheduler.timesteps).toHaveLength(51);
    scheduler.setTimesteps(1);
    expect(scheduler.timesteps).toEqual([1]);
  });

  it("starts with Euler, then Heun on the repeated timestep, then Adams–Bashforth 2", () => {
    const scheduler = new PndmScheduler(SD15_SCHEDULER_CONFIG);
    scheduler.setTimesteps(50);
    const x981 = Float32Array.of(0.5, -1, 2, 0);
    const e0 = Float32Array.of(0.1, 0.2, -0.3, 1);
    const e1 = Float32Array.of(-0.4, 0.3, 0.2, 0.5);
    const e2 = Float32Array.of(0.25, -0.1, 0.05, 0.7);
    const { 941: a941, 961: a961, 981: a981 } = ALPHA_BAR;

    // 1. t = 981 → 961 with ε_0
    const first = scheduler.step(e0, 981, x981);
    first.forEach((v, i) => expect(v).toBeCloseTo(ddimStep(x981[i], e0[i], a981, a961), 4));
    // 2. the repeated 961: redo 981 → 961 from x_981 with the mean of both predictions
    const second = scheduler.step(e1, 961, first);
    second.forEach((v, i) => expect(v).toBeCloseTo(ddimStep(x981[i], (e0[i] + e1[i]) / 2, a981, a961), 4));
    // 3. t = 961 → 941 with (3·ε_2 − ε_0)/2
    const third = scheduler.step(e2, 961, second);
    third.forEach((v, i) => expect(v).toBeCloseTo(ddimStep(second[i], (3 * e2[i] - e0[i]) / 2, a961, a941), 4));
  });

  it("continues with Adams–Bashforth 3 and 4 on the stored predictions", () => {
    const scheduler = new PndmScheduler(SD15_SCHEDULER_CONFIG);
    scheduler.setTimesteps(50);
    const e = [0.1, -0.4, 0.25, 0.6, -0.8].map((v) => Float32Array.of(v, 2 * v));
    let x = Float32Array.of(0.5, -1);
    // calls at 981, 961 (repeat), 961; ε_1 of the repeated call is only averaged, never stored
    for (const [k, t] of [981, 961, 961].entries()) x = scheduler.step(e[k], t, x);
    const { 901: a901, 921: a921, 941: a941 } = ALPHA_BAR;
    // 4. t = 941 → 921 with (23·ε_3 − 16·ε_2 + 5·ε_0)/12
    const x921 = scheduler.step(e[3], 941, x);
    x921.forEach((v, i) => expect(v).toBeCloseTo(ddimStep(x[i], (23 * e[3][i] - 16 * e[2][i] + 5 * e[0][i]) / 12, a941, a921), 4));
    // 5. t = 921 → 901 with (55·ε_4 − 59·ε_3 + 37·ε_2 − 9·ε_0)/24
    const eps = (i: number) => (55 * e[4][i] - 59 * e[3][i] + 37 * e[2][i] - 9 * e[0][i]) / 24;
    scheduler.step(e[4], 921, x921).forEach((v, i) => expect(v).toBeCloseTo(ddimStep(x921[i], eps(i), a921, a901), 4));
  });

  it("reduces to DDIM when the model's ε never changes (the multistep weights sum to 1)", () => {
    const pndm = new PndmScheduler(SD15_SCHEDULER_CONFIG);
    const ddim = new DdimScheduler(SD15_SCHEDULER_CONFIG);
    pndm.setTimesteps(20);
    ddim.setTimesteps(20);
    const eps = Float32Array.of(0.3, -0.7, 1.1);
    let x = Float32Array.of(1, 0.5, -2);
    for (const t of pndm.timesteps) x = pndm.step(eps, t, x);
    let y = Float32Array.of(1, 0.5, -2);
    for (const t of ddim.timesteps) y = ddim.step(eps, t, y);
    x.forEach((v, i) => expect(v).toBeCloseTo(y[i], 4));
  });
});
