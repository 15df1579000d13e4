import sharp from "sharp";
import { describe, expect, it } from "vitest";
import { relativeError } from "../graph/test-support.ts";
import { safetyPixels, shortestSideSize } from "./safety-preprocess.ts";
import { readFixture } from "./safety-test-support.ts";

const inputs = readFixture("inputs.safetensors");
/** [H, W, 3] uint8 → what safetyPixels takes. */
const raw = (n: number) => ({ rgb: inputs[`raw_${n}`].data as Uint8Array, height: inputs[`raw_${n}`].shape[0], width: inputs[`raw_${n}`].shape[1] });

describe("the safety checker's preprocessing against CLIPImageProcessor (PIL bicubic, crop, CLIP mean/std)", () => {
  it("sizes the shortest side to 224 and truncates the other, as transformers does", () => {
    expect(shortestSideSize(322, 256, 224)).toEqual({ width: 281, height: 224 });
    expect(shortestSideSize(180, 260, 224)).toEqual({ width: 224, height: 323 });
  });

  it.each([
    [0, "scaled down"],
    [1, "scaled up"],
  ])("reproduces pixel_values_%i (%s) within rel 1e-4, i.e. Pillow's bytes", (n) => {
    const { rgb, width, height } = raw(n);
    const ours = safetyPixels(rgb, width, height, 224);
    expect(relativeError(ours, inputs[`pixel_values_${n}`].data)).toBeLessThanOrEqual(1e-4);
  });

  /**
   * Why the resize is ported rather than sharp's `cubic`: measured here, sharp lands grey levels away
   * from Pillow (the largest byte difference over the crop), which the 1e-4 bound cannot absorb.
   */
  it.each([0, 1])("sharp's cubic kernel does not give Pillow's bytes for raw_%i", async (n) => {
    const { rgb, width, height } = raw(n);
    const size = shortestSideSize(width, height, 224);
    const resized = await sharp(rgb, { raw: { width, height, channels: 3 } }).resize(size.width, size.height, { kernel: "cubic", fit: "fill" }).raw().toBuffer();
    const viaSharp = safetyPixels(new Uint8Array(resized), size.width, size.height, 224); // no second resize: sizes already match
    const rel = relativeError(viaSharp, inputs[`pixel_values_${n}`].data);
    console.info(`sharp cubic vs PIL bicubic, raw_${n}: rel ${rel.toExponential(2)} (≈ ${Math.round(rel / 0.0072)} grey level(s) at worst)`);
    expect(rel).toBeGreaterThan(1e-4);
  });
});
