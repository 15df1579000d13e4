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

/** Fills `target` from `position`, or throws naming the file (a truncated file). */
function readInto(fd: number, target: Uint8Array, position: number, file: string): void {
  let done = 0;
  while (done < target.byteLength) {
    const n = readSync(fd, target, done, target.byteLength - done, position + done);
    if (n === 0) throw new Error(`${file}: unexpected end of file at byte ${position + done} (truncated?)`);
    done += n;
  }
}

/** Reads exactly `length` bytes at `position`, or throws naming the file (a truncated file). */
export function readExactly(fd: number, length: number, position: number, file: string): Buffer {
  const buf = Buffer.allocUnsafe(length);
  readInto(fd, buf, position, file);
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

/** Throws, naming `what`, unless `dtype` can be a graph weight. */
export function assertFloat(dtype: StoredDType, what: string): void {
  if (!FLOAT_DTYPES.has(dtype)) throw new Error(`${what} has dtype ${dtype}; a weight must be F32, F16 or BF16`);
}

/** F16 / BF16 codes → float32 values. */
function fromHalves(codes: Uint16Array, dtype: StoredDType): Float32Array {
  const out = new Float32Array(codes.length);
  if (dtype === "F16") {
    const table = halves();
    for (let i = 0; i < codes.length; i++) out[i] = table[codes[i]];
  } else {
    const bits = new Uint32Array(out.buffer);
    for (let i = 0; i < codes.length; i++) bits[i] = codes[i] << 16; // bf16 is the top half of a float32
  }
  return out;
}

/**
 * `count` F32 / F16 / BF16 values at `position` in a file as float32: read straight into the result (F32) or
 * into one array of half codes (F16 / BF16), no intermediate buffer. Little-endian host, as every ORT target is.
 */
export function readFloats(fd: number, dtype: StoredDType, count: number, position: number, file: string, what: string): Float32Array {
  assertFloat(dtype, what);
  if (dtype === "F32") {
    const out = new Float32Array(count);
    readInto(fd, new Uint8Array(out.buffer), position, file);
    return out;
  }
  const codes = new Uint16Array(count);
  readInto(fd, new Uint8Array(codes.buffer), position, file);
  return fromHalves(codes, dtype);
}

/** F32 / F16 / BF16 little-endian bytes already in memory → float32 values. */
export function floatsFromBytes(raw: Uint8Array, dtype: StoredDType, what: string): Float32Array {
  assertFloat(dtype, what);
  const n = raw.byteLength / DTYPE_BYTES[dtype];
  const aligned = new Uint8Array(n * DTYPE_BYTES[dtype]); // typed views need alignment the source may lack
  aligned.set(raw);
  return dtype === "F32" ? new Float32Array(aligned.buffer) : fromHalves(new Uint16Array(aligned.buffer), dtype);
}

export const elementCount = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);
