import { SD15_SCHEDULER_CONFIG } from "@troupe/shared/contracts/manifest";
import { describe, expect, it } from "vitest";
import { alphasCumprod, betaSchedule, trainSigmas } from "./betas.ts";

describe("SD 1.5 training schedule", () => {
  it("spaces sqrt(β) linearly from 0.00085 to 0.012 (scaled_linear)", () => {
    const betas = betaSchedule(SD15_SCHEDULER_CONFIG);
    expect(betas).toHaveLength(1000);
    expect(betas[0]).toBeCloseTo(0.00085, 12);
    expect(betas[999]).toBeCloseTo(0.012, 12);
    const mid = (Math.sqrt(0.00085) + (Math.sqrt(0.012) - Math.sqrt(0.00085)) * (500 / 999)) ** 2;
    expect(betas[500]).toBeCloseTo(mid, 12);
  });

  it("matches ᾱ and σ worked out with numpy (float64)", () => {
    const ac = alphasCumprod(SD15_SCHEDULER_CONFIG);
    expect(ac[0]).toBeCloseTo(0.99915, 12);
    expect(ac[500]).toBeCloseTo(0.2763326838229746, 12);
    expect(ac[999]).toBeCloseTo(0.004660098513077238, 12);
    const sigmas = trainSigmas(ac);
    // k-diffusion's SD sigma_min / sigma_max
    expect(sigmas[0]).toBeCloseTo(0.0291675, 6);
    expect(sigmas[999]).toBeCloseTo(14.6146, 4);
  });

  it("spaces β linearly for the linear schedule", () => {
    const betas = betaSchedule({ ...SD15_SCHEDULER_CONFIG, betaSchedule: "linear", betaStart: 0.0001, betaEnd: 0.02 });
    expect(betas[0]).toBeCloseTo(0.0001, 12);
    expect(betas[999]).toBeCloseTo(0.02, 12);
    expect(betas[1] - betas[0]).toBeCloseTo((0.02 - 0.0001) / 999, 12);
  });
});
