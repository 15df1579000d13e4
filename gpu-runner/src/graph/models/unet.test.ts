import onnxProto from "onnx-proto";
import { describe, expect, it } from "vitest";
import { GraphBuilder } from "../builder.ts";
import { TINY_CONFIG } from "../configs/tiny.ts";
import { f32, pseudoRandom, relativeError, sessionOf } from "../test-support.ts";
import { seededRandom } from "../weights.ts";
import { buildUNet, type UNetOptions } from "./unet.ts";

const B = 2;
const H = 16;
const W = 16;
const L = TINY_CONFIG.text.maxLength;
const D = TINY_CONFIG.hiddenSize;
const TOKEN = 5;

let localized: ReturnType<typeof sessionOf> | undefined;
const localizedUNet = () => (localized ??= unet({}));

function unetGraph(options: UNetOptions) {
  const g = new GraphBuilder("unet", { weights: seededRandom(7) });
  buildUNet(g, TINY_CONFIG, options);
  return g;
}
const unet = (options: UNetOptions) => sessionOf(unetGraph(options));

/** Count of each op in the graph (domain-qualified for contrib ops). */
function opCounts(options: UNetOptions): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const n of onnxProto.onnx.ModelProto.decode(unetGraph(options).toBytes()).graph!.node!) {
    const op = n.domain ? `${n.domain}.${n.opType}` : n.opType!;
    counts[op] = (counts[op] ?? 0) + 1;
  }
  return counts;
}


const feeds = {
  sample: f32(pseudoRandom(B * 4 * H * W, 1), [B, 4, H, W]),
  timestep: f32(Float32Array.from([981, 1]), [B]),
  encoder_hidden_states: f32(pseudoRandom(B * L * D, 2), [B, L, D]),
};

/** −10000 for TOKEN at every latent pixel right of column `boxRight` (the subject's box is the left part). */
function boxBias(boxRight: number): Float32Array {
  const bias = new Float32Array(B * L * H * W);
  for (let b = 0; b < B; b++) for (let y = 0; y < H; y++) for (let x = boxRight; x < W; x++) bias[((b * L + TOKEN) * H + y) * W + x] = -10000;
  return bias;
}

describe("unet localized attention", () => {
  it("gives a token ~zero attention outside its box at h/4", async () => {
    const session = await localizedUNet();
    const out = await session.run({ ...feeds, cross_attention_bias: f32(boxBias(8), [B, L, H, W]) });
    expect(out.attention_probs.dims).toEqual([B, L, H / 4, W / 4]);
    const probs = out.attention_probs.data as Float32Array;
    const at = (b: number, t: number, y: number, x: number) => probs[((b * L + t) * (H / 4) + y) * (W / 4) + x];
    for (let b = 0; b < B; b++)
      for (let y = 0; y < H / 4; y++) {
        // columns 0..1 at h/4 cover latent columns 0..7 (inside); 2..3 are wholly outside
        for (const x of [2, 3]) expect(at(b, TOKEN, y, x)).toBeLessThan(1e-6);
        for (const x of [0, 1]) expect(at(b, TOKEN, y, x)).toBeGreaterThan(1e-4);
      }
  });

  it("keeps a coarse pixel open when any fine pixel it covers may attend (max-pool)", async () => {
    const session = await localizedUNet();
    // box edge at latent column 6: h/4 column 1 covers columns 4..7, partly inside
    const out = await session.run({ ...feeds, cross_attention_bias: f32(boxBias(6), [B, L, H, W]) });
    const probs = out.attention_probs.data as Float32Array;
    expect(probs[((0 * L + TOKEN) * (H / 4) + 0) * (W / 4) + 1]).toBeGreaterThan(1e-4);
  });

  it("with a zero bias equals the UNet without the bias input", async () => {
    const [withBias, plain] = await Promise.all([localizedUNet(), unet({ localizedAttention: false })]);
    const a = await withBias.run({ ...feeds, cross_attention_bias: f32(new Float32Array(B * L * H * W), [B, L, H, W]) });
    const b = await plain.run(feeds);
    expect(plain.inputNames).not.toContain("cross_attention_bias");
    for (const name of ["noise_pred", "attention_probs"]) {
      const x = a[name].data as Float32Array;
      const y = b[name].data as Float32Array;
      expect(x.length).toBe(y.length);
      x.forEach((v, i) => expect(v).toBeCloseTo(y[i], 5));
    }
  });
});

describe("unet fused attention", () => {
  // tiny: 3 levels × (1 down + 2 up) transformers + the mid one = 10, each a self- and a cross-attention
  it("fuses every attention except the h/4 cross-attentions that make attention_probs", () => {
    const fused = opCounts({});
    expect(fused["com.microsoft.MultiHeadAttention"]).toBe(17);
    expect(fused.Softmax).toBe(3); // down_blocks.2 and up_blocks.0's two: the recorded level
    const explicit = opCounts({ fusedAttention: false });
    expect(explicit["com.microsoft.MultiHeadAttention"]).toBeUndefined();
    expect(explicit.Softmax).toBe(20);
  });

  it("equals the explicit MatMul → Softmax → MatMul graph (rel ≤ 1e-5) with a box bias and without one", async () => {
    const [fused, explicit] = await Promise.all([localizedUNet(), unet({ fusedAttention: false })]);
    for (const bias of [boxBias(6), new Float32Array(B * L * H * W)]) {
      const run = { ...feeds, cross_attention_bias: f32(bias, [B, L, H, W]) };
      const [a, b] = [await fused.run(run), await explicit.run(run)];
      for (const name of ["noise_pred", "attention_probs"]) expect(relativeError(a[name].data as Float32Array, b[name].data as Float32Array), name).toBeLessThanOrEqual(1e-5);
    }
  });

  it("equals the explicit graph without the bias input too", async () => {
    const [a, b] = [await (await unet({ localizedAttention: false })).run(feeds), await (await unet({ localizedAttention: false, fusedAttention: false })).run(feeds)];
    expect(relativeError(a.noise_pred.data as Float32Array, b.noise_pred.data as Float32Array)).toBeLessThanOrEqual(1e-5);
  });
});
