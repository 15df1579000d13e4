import { describe, expect, it } from "vitest";
import sharp from "sharp";
import { BLOCKED, buildAttentionBias } from "./attention-bias.ts";
import { SD15_SCHEDULER_CONFIG } from "@troupe/shared/contracts/manifest";
import { createScheduler, type SchedulerName } from "../schedulers/index.ts";
import { guidanceHalves, imagesPerCall } from "@troupe/shared/contracts/manifest";
import { applyGuidance, textOnlyCalls } from "./guidance.ts";
import { encodePng, toRgb8 } from "./image-output.ts";
import { preprocessReference } from "./reference-image.ts";

describe("attention bias", () => {
  it("is null without boxes, so the UNet runs unbiased", () => {
    expect(buildAttentionBias({ tokens: 77, height: 4, width: 4, subjects: [{ position: 2 }] })).toBeNull();
  });

  it("blocks a subject's token outside its box and inside the other subject's box", () => {
    const bias = buildAttentionBias({
      tokens: 8,
      height: 2,
      width: 4,
      subjects: [
        { position: 2, box: [0, 0, 0.5, 1] },
        { position: 5, box: [0.5, 0, 1, 1] },
      ],
    })!;
    const row = (t: number) => Array.from(bias.subarray(t * 8, t * 8 + 8));
    const L = 0, B = BLOCKED;
    expect(row(2)).toEqual([L, L, B, B, L, L, B, B]);
    expect(row(5)).toEqual([B, B, L, L, B, B, L, L]);
    expect(row(3).every((v) => v === 0)).toBe(true);
  });
});

describe("guidance", () => {
  it("with scale 1 is the conditional prediction", () => {
    expect(Array.from(applyGuidance(new Float32Array([1, 2, 5, 7]), 1))).toEqual([5, 7]);
    expect(Array.from(applyGuidance(new Float32Array([1, 2, 5, 7]), 3))).toEqual([13, 17]);
  });

  it("batches all images in one UNet call only within the memory budget, counting the halves actually run", () => {
    const job = { numImages: 4, width: 512, height: 512 };
    const memory = { maxBatchPixels: 8 * 512 * 512, maxJobPixels: 1e9 };
    expect([guidanceHalves(1), guidanceHalves(1.5)]).toEqual([1, 2]);
    expect(imagesPerCall(memory, { ...job, guidanceScale: 5 })).toBe(4);
    expect(imagesPerCall({ ...memory, maxBatchPixels: 8 * 512 * 512 - 1 }, { ...job, guidanceScale: 5 })).toBe(1);
    expect(imagesPerCall({ ...memory, maxBatchPixels: 4 * 512 * 512 }, { ...job, guidanceScale: 1 })).toBe(4);
    expect(imagesPerCall(undefined, { ...job, guidanceScale: 1 })).toBe(1);
  });
});

describe("delayed subject conditioning", () => {
  /** Text-only UNet calls of one image, over the scheduler's own timesteps (PNDM: steps + 1 calls). */
  const textOnlyUnetCalls = (scheduler: SchedulerName, alpha: number, steps: number) => {
    const s = createScheduler(scheduler, SD15_SCHEDULER_CONFIG);
    s.setTimesteps(steps);
    return textOnlyCalls(alpha, steps, s.timesteps.length);
  };

  it.each(["ddim", "euler", "dpmpp-2m"] as const)("%s: alpha 0.8 at 50 steps gives 10 text-only steps, not 9 ((1 - 0.8) * 50 < 10 in binary)", (scheduler) => {
    expect((1 - 0.8) * 50).toBeLessThan(10); // the floating-point trap this guards against
    expect(textOnlyUnetCalls(scheduler, 0.8, 50)).toBe(10);
    expect(textOnlyUnetCalls(scheduler, 0.7, 50)).toBe(15);
  });

  it("pndm: alpha 0.7 at 50 steps gives 16 text-only UNet calls of 51, as the reference's i <= (1 - alpha) * steps", () => {
    const s = createScheduler("pndm", SD15_SCHEDULER_CONFIG);
    s.setTimesteps(50);
    expect(s.timesteps).toHaveLength(51);
    expect(textOnlyUnetCalls("pndm", 0.7, 50)).toBe(16);
    expect(textOnlyUnetCalls("pndm", 0.8, 50)).toBe(11); // 10 steps, the warm-up call being step 0
  });

  it.each(["pndm", "ddim", "euler", "dpmpp-2m"] as const)("%s: alpha 0 is text-only throughout, alpha 1 conditions every call", (scheduler) => {
    const calls = scheduler === "pndm" ? 51 : 50;
    expect(textOnlyUnetCalls(scheduler, 0, 50)).toBe(calls);
    expect(textOnlyUnetCalls(scheduler, 1, 50)).toBe(0);
    expect(textOnlyUnetCalls(scheduler, 0.999, 50)).toBe(0); // 0.05 of a step rounds down to none
  });

  it("floors the decimal product for every 3-decimal alpha and every step count the API allows", () => {
    for (let steps = 1; steps <= 150; steps++) {
      for (let k = 0; k <= 1000; k++) {
        const exact = Math.floor(((1000 - k) * steps) / 1000); // integer arithmetic: no rounding
        if (textOnlyCalls(k / 1000, steps) !== exact) expect.fail(`alpha ${k / 1000}, ${steps} steps: ${textOnlyCalls(k / 1000, steps)} ≠ ${exact}`);
      }
    }
  });
});

const CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073];
const CLIP_STD = [0.26862954, 0.26130258, 0.27577711];

describe("images", () => {
  it("pads to a black square and normalizes with CLIP mean/std", async () => {
    const white = await sharp({ create: { width: 40, height: 20, channels: 3, background: { r: 255, g: 255, b: 255 } } }).png().toBuffer();
    const px = await preprocessReference(white, 8);
    expect(px.length).toBe(3 * 64);
    expect(px[0]).toBeCloseTo((0 - 0.48145466) / 0.26862954, 3); // top row: padding
    expect(px[4 * 8 + 4]).toBeCloseTo((1 - 0.48145466) / 0.26862954, 1); // centre: the photo
  });

  it("resizes with antialiased bilinear (FastComposer's torchvision Resize): no cubic overshoot at an edge", async () => {
    // 30×30 → 10×10 (a 3× shrink): columns 0–15 grey 64, 16–29 grey 192. The triangle filter of support 3
    // centred on output column 5 (input 16.5) weighs input 14..18 by 1/3, 2/3, 1, 2/3, 1/3: (64·1 + 192·2)/3.
    // Every other output column sees one grey only. A cubic kernel rings: 59 and 197 beside the edge.
    const raw = Buffer.alloc(30 * 30 * 3);
    for (let i = 0; i < 30 * 30; i++) raw.fill(i % 30 < 16 ? 64 : 192, i * 3, i * 3 + 3);
    const edge = await sharp(raw, { raw: { width: 30, height: 30, channels: 3 } }).png().toBuffer();
    const px = await preprocessReference(edge, 10);
    const expected = [64, 64, 64, 64, 64, 448 / 3, 192, 192, 192, 192];
    for (let c = 0; c < 3; c++) {
      const grey = Array.from(px.subarray(c * 100, (c + 1) * 100), (v) => (v * CLIP_STD[c] + CLIP_MEAN[c]) * 255);
      for (let i = 0; i < 100; i++) {
        expect(Math.abs(grey[i] - expected[i % 10]), `channel ${c}, pixel ${i}`).toBeLessThanOrEqual(0.5 + 1e-3);
      }
      expect(Math.min(...grey)).toBeGreaterThan(64 - 1e-3);
      expect(Math.max(...grey)).toBeLessThan(192 + 1e-3);
    }
  });

  it("refuses undecodable bytes and decompression bombs with upload_invalid", async () => {
    await expect(preprocessReference(new Uint8Array([1, 2, 3]), 8)).rejects.toMatchObject({ code: "upload_invalid" });
    const huge = await sharp({ create: { width: 8000, height: 6000, channels: 3, background: "#000" } }).png({ compressionLevel: 9 }).toBuffer();
    await expect(preprocessReference(huge, 8)).rejects.toMatchObject({ code: "upload_invalid" });
  });

  it("maps [-1,1] to 8-bit and encodes the same pixels to the same bytes", async () => {
    const img = new Float32Array([-1, 1, 0, 2, -3, 0.5]); // [1,3,1,2]
    expect(Array.from(toRgb8(img, 0, 1, 2))).toEqual([0, 128, 0, 255, 255, 191]);
    const a = await encodePng(toRgb8(img, 0, 1, 2), 2, 1);
    expect(a.equals(await encodePng(toRgb8(img, 0, 1, 2), 2, 1))).toBe(true);
  });
});
