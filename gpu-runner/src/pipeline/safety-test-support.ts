import { readFileSync } from "node:fs";
import { join } from "node:path";
import { PARITY } from "../checkpoints/test-support.ts";

/** ../shared/data/parity/safety-checker: diffusers' StableDiffusionSafetyChecker at a small config, random weights (see its README). */
export const SAFETY_FIXTURE = join(PARITY, "safety-checker");

export interface FixtureTensor {
  shape: number[];
  data: Float32Array | Uint8Array;
}

/** The tensors of one of the fixture's safetensors files (F32 and U8: its flags and raw images are bytes). */
export function readFixture(file: string): Record<string, FixtureTensor> {
  const path = join(SAFETY_FIXTURE, file);
  const buf = readFileSync(path);
  const headerLength = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + headerLength).toString("utf8")) as Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  const out: Record<string, FixtureTensor> = {};
  for (const [name, t] of Object.entries(header)) {
    if (name === "__metadata__") continue;
    const bytes = new Uint8Array(buf.subarray(8 + headerLength + t.data_offsets[0], 8 + headerLength + t.data_offsets[1])); // a copy: aligned
    if (t.dtype === "U8") out[name] = { shape: t.shape, data: bytes };
    else if (t.dtype === "F32") out[name] = { shape: t.shape, data: new Float32Array(bytes.buffer) };
    else throw new Error(`${path}: ${name} is ${t.dtype}`);
  }
  return out;
}
