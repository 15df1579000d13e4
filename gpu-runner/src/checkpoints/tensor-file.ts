import { readSync } from "node:fs";

/**
 * Element types as safetensors names them. Checkpoint readers map their own (torch storages) onto these,
 * so every reader hands out the same `StoredTensor`.
 */
export type StoredDType = "F64" | "F32" | "F16" | "BF16" | "I64" | "I32" | "I16" | "I8" | "U8" | "BOOL";

export const DTYPE_BYTES: Record<StoredDType, number> = { F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1 };

/** The floating types a graph weight may be read from. */
export const FLOAT_DTYPES: ReadonlySet<StoredDType> = new Set(["F32", "F16", "BF16"]);

/** One tensor inside a checkpoint file; its bytes stay on disk until `read()` is called. */
export interface StoredTensor {
  /** The key in its file, as stored (no prefix stripped). */
  readonly key: string;
  /** The file it lives in (for messages). */
  readonly file: string;
  readonly dtype: StoredDType;
  readonly shape: readonly number[];
  /** Reads the values (row-major, contiguous) as float32. Throws, naming file and key, for a non-float dtype. */
  read(): Float32Array;
}

/** An opened checkpoint: its tensors by key, in file order. */
export interface TensorFile {
  readonly file: string;
  readonly tensors: ReadonlyMap<string, StoredTensor>;
  close(): void;
}

/** Reads exactly `length` bytes at `position`, or throws naming the file (a truncated file). */
export function readExactly(fd: number, length: number, position: number, file: string): Buffer {
  const buf = Buffer.allocUnsafe(length);
  let done = 0;
  while (done < length) {
    const n = readSync(fd, buf, done, length - done, position + done);
    if (n === 0) throw new Error(`${file}: unexpected end of file at byte ${position + done} (truncated?)`);
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

/** Every half's float value: a 256 KiB table makes converting a 1.7 GB fp16 UNet ~10× faster than arithmetic. */
let halfTable: Float32Array | undefined;
const halves = () => (halfTable ??= Float32Array.from({ length: 65536 }, (_, h) => halfToFloat(h)));

/** F32 / F16 / BF16 little-endian bytes → float32 values. */
export function floatsFromBytes(raw: Buffer, dtype: StoredDType, what: string): Float32Array {
  if (!FLOAT_DTYPES.has(dtype)) throw new Error(`${what} has dtype ${dtype}; a weight must be F32, F16 or BF16`);
  const n = raw.byteLength / DTYPE_BYTES[dtype];
  const out = new Float32Array(n);
  if (dtype === "F32") new Uint8Array(out.buffer).set(raw); // little-endian host, as every ORT target is
  else {
    // an aligned copy, so the halves can be read through a Uint16Array (little-endian host)
    const codes = new Uint16Array(n);
    new Uint8Array(codes.buffer).set(raw);
    if (dtype === "F16") {
      const table = halves();
      for (let i = 0; i < n; i++) out[i] = table[codes[i]];
    } else {
      const bits = new Uint32Array(out.buffer);
      for (let i = 0; i < n; i++) bits[i] = codes[i] << 16; // bf16 is the top half of a float32
    }
  }
  return out;
}

export const elementCount = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);
