import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as ort from "onnxruntime-node";
import { ensureTinyBundle } from "../bundle/tiny-bundle.ts";
import { loadBundle, releaseBundle, type LoadedBundle } from "../bundle/load-bundle.ts";
import { buildAttentionBias } from "./attention-bias.ts";

let bundle: LoadedBundle;
beforeAll(async () => {
  bundle = await loadBundle(await ensureTinyBundle(), { executionProvider: "cpu", intraOpThreads: 1 });
});
afterAll(async () => bundle && releaseBundle(bundle));

/** Two subjects side by side, as the pipeline builds their bias; the negative half gets zeros. */
describe("localized attention through the tiny UNet", () => {
  it("keeps each subject's token out of everything but its own box, the other subject's box included", async () => {
    const { manifest } = bundle;
    const [h, w, L, D] = [16, 16, manifest.tokens.maxLength, manifest.hiddenSize];
    const subjects = [
      { position: 2, box: [0, 0, 0.5, 1] as [number, number, number, number] },
      { position: 5, box: [0.5, 0, 1, 1] as [number, number, number, number] },
    ];
    const bias = new Float32Array(2 * L * h * w);
    bias.set(buildAttentionBias({ tokens: L, height: h, width: w, subjects })!, L * h * w);
    const noise = (n: number, seed: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 12.9898 + seed) * 0.5);
    const out = await bundle.sessions.unet.run({
      sample: new ort.Tensor("float32", noise(2 * 4 * h * w, 1), [2, 4, h, w]),
      timestep: new ort.Tensor("float32", Float32Array.from([500, 500]), [2]),
      encoder_hidden_states: new ort.Tensor("float32", noise(2 * L * D, 2), [2, L, D]),
      cross_attention_bias: new ort.Tensor("float32", bias, [2, L, h, w]),
    });
    const probs = out.attention_probs.data as Float32Array;
    const [ch, cw] = [h / 4, w / 4];
    const at = (b: number, t: number, y: number, x: number) => probs[((b * L + t) * ch + y) * cw + x];
    for (let y = 0; y < ch; y++)
      for (let x = 0; x < cw; x++) {
        const left = x < cw / 2;
        // conditional half: subject 0 only on the left, subject 1 only on the right
        expect(at(1, 2, y, x) < 1e-6).toBe(!left);
        expect(at(1, 5, y, x) < 1e-6).toBe(left);
        // unconditional half: zero bias, both tokens attended everywhere
        expect(at(0, 2, y, x)).toBeGreaterThan(1e-6);
        expect(at(0, 5, y, x)).toBeGreaterThan(1e-6);
      }
  });
});
