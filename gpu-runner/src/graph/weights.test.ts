import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { safetensorsBytes, type SafetensorsInput } from "../checkpoints/test-support.ts";
import { safetensorsSource, seededRandom } from "./weights.ts";

describe("seededRandom", () => {
  it("is deterministic per seed and name, whatever the order", () => {
    const a = seededRandom(3);
    const first = a.tensor("x.weight", [64, 16], "normal", 16);
    a.tensor("y.weight", [8], "normal", 8);
    expect(seededRandom(3).tensor("x.weight", [64, 16], "normal", 16)).toEqual(first);
    expect(seededRandom(4).tensor("x.weight", [64, 16], "normal", 16)).not.toEqual(first);
  });

  it("draws std 1/sqrt(fanIn) and fills norms with ones and zeros", () => {
    const w = seededRandom(1).tensor("w", [400, 100], "normal", 100);
    const mean = w.reduce((s, v) => s + v, 0) / w.length;
    const std = Math.sqrt(w.reduce((s, v) => s + (v - mean) ** 2, 0) / w.length);
    expect(mean).toBeCloseTo(0, 2);
    expect(std).toBeCloseTo(0.1, 2);
    expect(seededRandom(1).tensor("n.weight", [3], "ones")).toEqual(Float32Array.from([1, 1, 1]));
    expect(seededRandom(1).tensor("n.bias", [3], "zeros")).toEqual(new Float32Array(3));
  });
});

function writeSafetensors(path: string, tensors: Record<string, SafetensorsInput>): void {
  writeFileSync(path, safetensorsBytes(tensors));
}

describe("safetensorsSource", () => {
  const dir = mkdtempSync(join(tmpdir(), "safetensors-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const f32 = Buffer.from(Float32Array.from([1.5, -2, 0.25, 3, 4, 5]).buffer);
  // 1.0, -2.0, 0.5, 65504 (max half), 2^-24 (smallest subnormal) in IEEE half
  const f16 = Buffer.from(Uint16Array.from([0x3c00, 0xc000, 0x3800, 0x7bff, 0x0001]).buffer);
  const a = join(dir, "a.safetensors");
  const b = join(dir, "b.safetensors");
  writeSafetensors(a, { "conv_in.weight": { dtype: "F32", shape: [2, 3], bytes: f32 } });
  writeSafetensors(b, { "postfuse_module.mlp1.fc1.bias": { dtype: "F16", shape: [5], bytes: f16 } });

  it("reads F32 and F16 tensors by name across files, prefixes stripped", () => {
    const source = safetensorsSource([a, b], { prefixes: ["postfuse_module."] });
    expect(source.tensor("conv_in.weight", [2, 3], "normal")).toEqual(Float32Array.from([1.5, -2, 0.25, 3, 4, 5]));
    expect(source.tensor("mlp1.fc1.bias", [5], "zeros")).toEqual(Float32Array.from([1, -2, 0.5, 65504, 2 ** -24]));
    source.close();
  });

  it("refuses two keys that land on one name instead of picking one", () => {
    const c = join(dir, "c.safetensors");
    writeSafetensors(c, { "mlp1.fc1.bias": { dtype: "F16", shape: [5], bytes: f16 } });
    expect(() => safetensorsSource([b, c], { prefixes: ["postfuse_module."] })).toThrow(/mlp1\.fc1\.bias could come from postfuse_module\.mlp1\.fc1\.bias in .*b\.safetensors or mlp1\.fc1\.bias in .*c\.safetensors/);
  });

  it("names a missing tensor and a shape mismatch", () => {
    const source = safetensorsSource([a]);
    expect(() => source.tensor("conv_out.weight", [2, 3], "normal")).toThrow(/conv_out\.weight is in none of/);
    expect(() => source.tensor("conv_in.weight", [3, 2], "normal")).toThrow(/conv_in\.weight .* has shape \[2,3\], the graph needs \[3,2\]/);
    source.close();
  });
});
