import onnxProto from "onnx-proto";
import { describe, expect, it } from "vitest";
import { GraphBuilder } from "../builder.ts";
import { f32, pseudoRandom, sessionOf } from "../test-support.ts";
import { attention, fusedAttention } from "./attention.ts";

const B = 2;
const LQ = 5;
const LK = 7;
const HEADS = 2;
const DIM = 8;

/** Plain softmax(q·kᵀ/√d + bias)·v per batch and head; bias is [B, Lq, Lk] (shared by heads), or [Lq, Lk] with `sharedBias`. */
function reference(q: Float32Array, k: Float32Array, v: Float32Array, bias?: Float32Array, sharedBias = false) {
  const d = DIM / HEADS;
  const out = new Float32Array(B * LQ * DIM);
  const probs = new Float32Array(B * HEADS * LQ * LK);
  for (let b = 0; b < B; b++)
    for (let h = 0; h < HEADS; h++)
      for (let i = 0; i < LQ; i++) {
        const scores = Array.from({ length: LK }, (_, j) => {
          let s = 0;
          for (let c = 0; c < d; c++) s += q[(b * LQ + i) * DIM + h * d + c] * k[(b * LK + j) * DIM + h * d + c];
          return s / Math.sqrt(d) + (bias ? bias[((sharedBias ? 0 : b) * LQ + i) * LK + j] : 0);
        });
        const max = Math.max(...scores);
        const exps = scores.map((s) => Math.exp(s - max));
        const sum = exps.reduce((a, e) => a + e, 0);
        exps.forEach((e, j) => (probs[((b * HEADS + h) * LQ + i) * LK + j] = e / sum));
        for (let c = 0; c < d; c++) {
          let acc = 0;
          for (let j = 0; j < LK; j++) acc += (exps[j] / sum) * v[(b * LK + j) * DIM + h * d + c];
          out[(b * LQ + i) * DIM + h * d + c] = acc;
        }
      }
  return { out, probs };
}

async function runAttention(withBias: boolean, q: Float32Array, k: Float32Array, v: Float32Array, bias: Float32Array) {
  const g = new GraphBuilder("attention");
  const qi = g.input("q", "float32", ["B", LQ, DIM]);
  const ki = g.input("k", "float32", ["B", LK, DIM]);
  const vi = g.input("v", "float32", ["B", LK, DIM]);
  const bi = withBias ? g.input("bias", "float32", ["B", 1, LQ, LK]) : undefined;
  const { out, probs } = attention(g, qi, ki, vi, { heads: HEADS, dim: DIM, bias: bi });
  g.output(out, "out", "float32", ["B", LQ, DIM]);
  g.output(probs, "probs", "float32", ["B", HEADS, LQ, LK]);
  const feeds = { q: f32(q, [B, LQ, DIM]), k: f32(k, [B, LK, DIM]), v: f32(v, [B, LK, DIM]), ...(withBias ? { bias: f32(bias, [B, 1, LQ, LK]) } : {}) };
  const result = await (await sessionOf(g)).run(feeds);
  return { out: result.out.data as Float32Array, probs: result.probs.data as Float32Array };
}

const close = (actual: Float32Array, expected: Float32Array) => {
  expect(actual.length).toBe(expected.length);
  actual.forEach((a, i) => expect(a).toBeCloseTo(expected[i], 5));
};

describe("attention", () => {
  const q = pseudoRandom(B * LQ * DIM, 1);
  const k = pseudoRandom(B * LK * DIM, 2);
  const v = pseudoRandom(B * LK * DIM, 3);

  it("matches a plain softmax attention without a bias", async () => {
    const got = await runAttention(false, q, k, v, new Float32Array(0));
    const want = reference(q, k, v);
    close(got.out, want.out);
    close(got.probs, want.probs);
  });

  it("adds the bias to every head's scores before softmax", async () => {
    const bias = pseudoRandom(B * LQ * LK, 4).map((x, i) => (i % 3 === 0 ? -10000 : x * 3));
    const got = await runAttention(true, q, k, v, bias);
    const want = reference(q, k, v, bias);
    close(got.out, want.out);
    close(got.probs, want.probs);
    // a −10000 entry leaves (numerically) nothing for that key
    for (let b = 0; b < B; b++)
      for (let h = 0; h < HEADS; h++)
        for (let i = 0; i < LQ; i++)
          for (let j = 0; j < LK; j++) if (bias[(b * LQ + i) * LK + j] === -10000) expect(got.probs[((b * HEADS + h) * LQ + i) * LK + j]).toBeLessThan(1e-30);
  });
});

/** The fused node on the same inputs; `biasBatch` 1 shares one [Lq, Lk] bias across the batch (the causal mask's form). */
async function runFused(q: Float32Array, k: Float32Array, v: Float32Array, bias?: Float32Array, biasBatch = B) {
  const g = new GraphBuilder("fused");
  const qi = g.input("q", "float32", ["B", LQ, DIM]);
  const ki = g.input("k", "float32", ["B", LK, DIM]);
  const vi = g.input("v", "float32", ["B", LK, DIM]);
  const bi = bias ? g.input("bias", "float32", [biasBatch, 1, LQ, LK]) : undefined;
  g.output(fusedAttention(g, qi, ki, vi, { heads: HEADS, dim: DIM, bias: bi }), "out", "float32", ["B", LQ, DIM]);
  const model = onnxProto.onnx.ModelProto.decode(g.toBytes());
  const feeds = { q: f32(q, [B, LQ, DIM]), k: f32(k, [B, LK, DIM]), v: f32(v, [B, LK, DIM]), ...(bias ? { bias: f32(bias, [biasBatch, 1, LQ, LK]) } : {}) };
  const result = await (await sessionOf(g)).run(feeds);
  return { out: result.out.data as Float32Array, model };
}

describe("fusedAttention (com.microsoft.MultiHeadAttention)", () => {
  const q = pseudoRandom(B * LQ * DIM, 1);
  const k = pseudoRandom(B * LK * DIM, 2);
  const v = pseudoRandom(B * LK * DIM, 3);

  it("is one contrib node with the default 1/√d scale and matches the plain attention without a bias", async () => {
    const { out, model } = await runFused(q, k, v);
    const mha = model.graph!.node!.filter((n) => n.opType === "MultiHeadAttention");
    expect(mha).toHaveLength(1);
    expect(mha[0].domain).toBe("com.microsoft");
    expect(mha[0].input).toHaveLength(3);
    expect(mha[0].attribute!.map((a) => a.name)).toEqual(["num_heads"]);
    expect(model.opsetImport.map((o) => [o.domain, Number(o.version)])).toContainEqual(["com.microsoft", 1]);
    close(out, reference(q, k, v).out);
  });

  it("takes the bias [B, 1, Lq, Lk] as its attention_bias (input 5), −10000 entries included", async () => {
    const bias = pseudoRandom(B * LQ * LK, 4).map((x, i) => (i % 3 === 0 ? -10000 : x * 3));
    const { out, model } = await runFused(q, k, v, bias);
    const mha = model.graph!.node!.find((n) => n.opType === "MultiHeadAttention")!;
    expect(mha.input).toEqual(["q", "k", "v", "", "", "bias"]);
    close(out, reference(q, k, v, bias).out);
  });

  it("broadcasts a [1, 1, Lq, Lk] bias over the batch (CLIP's causal mask)", async () => {
    const mask = new Float32Array(LQ * LK).map((_, i) => (i % LK > Math.floor(i / LK) ? -1e9 : 0));
    const { out } = await runFused(q, k, v, mask, 1);
    close(out, reference(q, k, v, mask, true).out);
  });

  it("agrees with the explicit form (same graph inputs, within 1e-6)", async () => {
    const bias = pseudoRandom(B * LQ * LK, 5).map((x) => x * 4);
    const [fused, explicit] = [await runFused(q, k, v, bias), await runAttention(true, q, k, v, bias)];
    fused.out.forEach((x, i) => expect(Math.abs(x - explicit.out[i])).toBeLessThan(1e-6));
  });
});
