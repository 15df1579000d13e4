import { closeSync, openSync, readSync } from "node:fs";
import type { WeightSource } from "./weights.ts";

interface Entry {
  file: string;
  fd: number;
  dtype: string;
  shape: number[];
  /** Absolute byte range in the file. */
  begin: number;
  end: number;
}

const BYTES: Record<string, number> = { F32: 4, F16: 2, BF16: 2 };

function readExactly(fd: number, length: number, position: number): Buffer {
  const buf = Buffer.allocUnsafe(length);
  let done = 0;
  while (done < length) {
    const n = readSync(fd, buf, done, length - done, position + done);
    if (n === 0) throw new Error(`unexpected end of file at byte ${position + done}`);
    done += n;
  }
  return buf;
}

/** IEEE half → float. */
function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * 2 ** -14 * (frac / 1024);
  if (exp === 0x1f) return frac ? NaN : sign * Infinity;
  return sign * 2 ** (exp - 15) * (1 + frac / 1024);
}

function toFloat32(raw: Buffer, dtype: string): Float32Array {
  const n = raw.byteLength / BYTES[dtype];
  const out = new Float32Array(n);
  if (dtype === "F32") new Uint8Array(out.buffer).set(raw); // little-endian host, as every ORT target is
  else if (dtype === "F16") for (let i = 0; i < n; i++) out[i] = halfToFloat(raw.readUInt16LE(i * 2));
  else {
    const bits = new Uint32Array(out.buffer);
    for (let i = 0; i < n; i++) bits[i] = raw.readUInt16LE(i * 2) << 16; // bf16 is the top half of a float32
  }
  return out;
}

/** The header of one safetensors file: u64 LE header length, JSON {name: {dtype, shape, data_offsets}}. */
function indexFile(file: string, index: Map<string, Entry>): void {
  const fd = openSync(file, "r");
  const headerLength = Number(readExactly(fd, 8, 0).readBigUInt64LE(0));
  const header = JSON.parse(readExactly(fd, headerLength, 8).toString("utf8")) as Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  for (const [name, t] of Object.entries(header)) {
    if (name === "__metadata__") continue;
    if (index.has(name)) throw new Error(`weights: ${name} is in both ${index.get(name)!.file} and ${file}`);
    index.set(name, { file, fd, dtype: t.dtype, shape: t.shape, begin: 8 + headerLength + t.data_offsets[0], end: 8 + headerLength + t.data_offsets[1] });
  }
}

export interface SafetensorsOptions {
  /** Tried in order when a name is not found as is (e.g. "postfuse_module." for FastComposer's checkpoint). */
  prefixes?: string[];
}

/**
 * Weights by state-dict name from safetensors files (F32, F16, BF16 → float32). Tensors are read one
 * at a time when asked for, so a multi-GB checkpoint is never held in memory whole. A missing name or
 * a shape that differs from the graph's is an error naming the tensor.
 */
export function safetensorsSource(files: string[], options: SafetensorsOptions = {}): WeightSource & { close(): void } {
  const index = new Map<string, Entry>();
  for (const file of files) indexFile(file, index);
  return {
    tensor(name, dims) {
      const key = [name, ...(options.prefixes ?? []).map((p) => p + name)].find((k) => index.has(k));
      if (!key) throw new Error(`weights: ${name} is in none of ${files.join(", ")}`);
      const e = index.get(key)!;
      if (e.shape.join(",") !== dims.join(",")) throw new Error(`weights: ${key} in ${e.file} has shape [${e.shape}], the graph needs [${dims}]`);
      if (!(e.dtype in BYTES)) throw new Error(`weights: ${key} in ${e.file} has dtype ${e.dtype}; only F32, F16 and BF16 are read`);
      return toFloat32(readExactly(e.fd, e.end - e.begin, e.begin), e.dtype);
    },
    close() {
      for (const fd of new Set([...index.values()].map((e) => e.fd))) closeSync(fd);
    },
  };
}
