export type WeightInit = "normal" | "zeros" | "ones";

/** Where a graph's parameters come from, by state-dict name. */
export interface WeightSource {
  /**
   * The tensor `name` of shape `dims`. `init` and `fanIn` say how a generated source fills it
   * (normal with std 1/sqrt(fanIn), zeros, ones); a source reading real weights ignores them.
   */
  tensor(name: string, dims: number[], init: WeightInit, fanIn?: number): Float32Array;
}

/** FNV-1a over the name: each tensor gets its own stream, independent of build order. */
function hashName(name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) {
    h ^= name.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** mulberry32: small, fast and good enough for initial weights. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Fills `out` with N(0, std²) by Box-Muller, two values per pair of uniforms. */
function fillNormal(out: Float32Array, next: () => number, std: number): void {
  for (let i = 0; i < out.length; i += 2) {
    const u = 1 - next(); // (0, 1]: log stays finite
    const r = Math.sqrt(-2 * Math.log(u)) * std;
    const theta = 2 * Math.PI * next();
    out[i] = r * Math.cos(theta);
    if (i + 1 < out.length) out[i + 1] = r * Math.sin(theta);
  }
}

/**
 * Deterministic random weights: the same seed and name always give the same tensor.
 * std 1/sqrt(fanIn) keeps activations of the random networks in a sane range.
 */
export function seededRandom(seed: number): WeightSource {
  return {
    tensor(name, dims, init, fanIn) {
      const out = new Float32Array(dims.reduce((a, b) => a * b, 1));
      if (init === "ones") out.fill(1);
      if (init === "normal") fillNormal(out, mulberry32(hashName(name) ^ Math.imul(seed >>> 0, 0x9e3779b1)), 1 / Math.sqrt(fanIn ?? 1));
      return out;
    },
  };
}

export { safetensorsSource, type SafetensorsOptions } from "./safetensors-source.ts";
