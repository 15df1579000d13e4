import { describe, expect, it } from "vitest";
import sharp from "sharp";
import { BLOCKED, buildAttentionBias } from "./attention-bias.ts";
import { applyGuidance, subjectStartStep } from "./guidance.ts";
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
  it("starts subject conditioning at floor((1 - alpha) * steps)", () => {
    expect(subjectStartStep(0.7, 50)).toBe(15);
    expect(subjectStartStep(0, 50)).toBe(50);
    expect(subjectStartStep(1, 50)).toBe(0);
  });
});

describe("images", () => {
  it("pads to a black square and normalizes with CLIP mean/std", async () => {
    const white = await sharp({ create: { width: 40, height: 20, channels: 3, background: { r: 255, g: 255, b: 255 } } }).png().toBuffer();
    const px = await preprocessReference(white, 8);
    expect(px.length).toBe(3 * 64);
    expect(px[0]).toBeCloseTo((0 - 0.48145466) / 0.26862954, 3); // top row: padding
    expect(px[4 * 8 + 4]).toBeCloseTo((1 - 0.48145466) / 0.26862954, 1); // centre: the photo
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
