import { closeSync, openSync, writeSync } from "node:fs";
import { crc32 } from "node:zlib";
import { BYTES, byteSize, numel, type DType, type TensorSpec } from "./tensor-list.ts";
import { zip64End } from "../../gpu-runner/src/checkpoints/test-support.ts";

/**
 * Streaming writers for full-size checkpoints: safetensors and torch.save zips. Offsets are computed up
 * front; each tensor's bytes are then produced chunk by chunk (random values from a xorshift PRNG, or
 * 0, 1, … for position_ids) and written straight out, so memory stays at one 8 MiB chunk whatever the size.
 */

const CHUNK = 8 * 1024 * 1024;

/** xorshift32 → values of modest size: fp32 and fp16 with exponents giving |x| in [1/16, 1), random sign and mantissa. */
export class Values {
  private state = 0x9e3779b9;
  private readonly chunk = Buffer.allocUnsafe(CHUNK);
  private readonly words = new Uint32Array(this.chunk.buffer, this.chunk.byteOffset, CHUNK / 4);

  constructor(seed: number) {
    this.state = (seed ^ 0x9e3779b9) >>> 0 || 1;
  }

  /** The bytes of `t`, one chunk at a time (each chunk is reused: write it before asking for the next). */
  *bytes(t: TensorSpec): Generator<Buffer> {
    const total = byteSize(t);
    if (t.values === "arange" || t.dtype === "I32" || t.dtype === "I64") {
      yield arange(t);
      return;
    }
    for (let done = 0; done < total; done += CHUNK) {
      const n = Math.min(CHUNK, total - done);
      this.fill(t.dtype, Math.ceil(n / 4));
      yield this.chunk.subarray(0, n);
    }
  }

  private fill(dtype: DType, words: number): void {
    let x = this.state;
    const w = this.words;
    if (dtype === "F32") {
      for (let i = 0; i < words; i++) {
        x ^= x << 13;
        x ^= x >>> 17;
        x ^= x << 5;
        // sign | exponent 123..126 | mantissa
        w[i] = (x & 0x807fffff) | ((123 + ((x >>> 23) & 3)) << 23);
      }
    } else {
      // two halves per word: sign | exponent 11..14 | mantissa, each
      for (let i = 0; i < words; i++) {
        x ^= x << 13;
        x ^= x >>> 17;
        x ^= x << 5;
        w[i] = (x & 0x83ff83ff) | ((11 + ((x >>> 10) & 3)) << 10) | ((11 + ((x >>> 26) & 3)) << 26);
      }
    }
    this.state = x >>> 0;
  }
}

/** 0, 1, … along the last dimension, in the tensor's dtype (small: position_ids). */
function arange(t: TensorSpec): Buffer {
  const n = numel(t.shape);
  const last = t.shape[t.shape.length - 1] || 1;
  const out = Buffer.alloc(n * BYTES[t.dtype]);
  for (let i = 0; i < n; i++) {
    const v = i % last;
    if (t.dtype === "I64") out.writeBigInt64LE(BigInt(v), i * 8);
    else if (t.dtype === "I32") out.writeInt32LE(v, i * 4);
    else if (t.dtype === "F32") out.writeFloatLE(v, i * 4);
    else out.writeUInt16LE(halfOfInteger(v), i * 2);
  }
  return out;
}

/** A small non-negative integer (< 2048, exact in half) as IEEE half bits. */
function halfOfInteger(v: number): number {
  if (v === 0) return 0;
  const e = Math.floor(Math.log2(v));
  return ((e + 15) << 10) | Math.round((v / 2 ** e - 1) * 1024);
}

function writeAll(fd: number, data: Uint8Array, position: number): void {
  let done = 0;
  while (done < data.byteLength) done += writeSync(fd, data, done, data.byteLength - done, position + done);
}

// ---- safetensors ------------------------------------------------------------------------------------------

/** A safetensors file: u64 LE header length, JSON header (space-padded to 8 bytes), the tensors in order. Returns its size. */
export function writeSafetensors(path: string, tensors: TensorSpec[], options: { metadata?: Record<string, string>; seed?: number } = {}): number {
  const header: Record<string, unknown> = {};
  if (options.metadata) header.__metadata__ = options.metadata;
  let offset = 0;
  for (const t of tensors) {
    if (t.name in header) throw new Error(`duplicate tensor ${t.name}`);
    const end = offset + byteSize(t);
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, end] };
    offset = end;
  }
  let json = Buffer.from(JSON.stringify(header), "utf8");
  const pad = (8 - (json.length % 8)) % 8;
  if (pad) json = Buffer.concat([json, Buffer.alloc(pad, 0x20)]);
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(json.length));

  const values = new Values(options.seed ?? 1);
  const fd = openSync(path, "w");
  try {
    let at = 0;
    for (const part of [prefix, json]) {
      writeAll(fd, part, at);
      at += part.length;
    }
    for (const t of tensors)
      for (const chunk of values.bytes(t)) {
        writeAll(fd, chunk, at);
        at += chunk.length;
      }
    return at;
  } finally {
    closeSync(fd);
  }
}

// ---- pickle (protocol 2, as torch.save writes data.pkl) ---------------------------------------------------

const STORAGE_CLASS: Record<DType, string> = { F32: "FloatStorage", F16: "HalfStorage", I64: "LongStorage", I32: "IntStorage" };

class PickleWriter {
  private readonly parts: Buffer[] = [];
  private readonly memo = new Map<string, number>();

  op(...bytes: number[]): this {
    this.parts.push(Buffer.from(bytes));
    return this;
  }
  str(s: string): this {
    const b = Buffer.from(s, "utf8");
    const len = Buffer.alloc(4);
    len.writeUInt32LE(b.length);
    this.parts.push(Buffer.from([0x58]), len, b); // BINUNICODE
    return this;
  }
  int(n: number): this {
    if (n >= 0 && n < 256) return this.op(0x4b, n); // BININT1
    if (n >= 0 && n < 65536) return this.op(0x4d, n & 0xff, n >> 8); // BININT2
    if (n >= -(2 ** 31) && n < 2 ** 31) {
      const b = Buffer.alloc(4);
      b.writeInt32LE(n);
      this.parts.push(Buffer.from([0x4a]), b); // BININT
      return this;
    }
    const b = Buffer.alloc(8);
    b.writeBigInt64LE(BigInt(n));
    this.parts.push(Buffer.from([0x8a, 8]), b); // LONG1
    return this;
  }
  /** GLOBAL, memoized as pickle does (BINPUT once, BINGET after). */
  global(module: string, name: string): this {
    const key = `${module}\n${name}\n`;
    const slot = this.memo.get(key);
    if (slot !== undefined) return this.get(slot);
    this.parts.push(Buffer.from([0x63]), Buffer.from(key, "latin1"));
    return this.put(key);
  }
  /** A string memoized like a global ('storage', 'cpu' repeat for every tensor). */
  memoStr(s: string): this {
    const key = `str:${s}`;
    const slot = this.memo.get(key);
    return slot !== undefined ? this.get(slot) : this.str(s).put(key);
  }
  ints(values: readonly number[]): this {
    this.op(0x28); // MARK
    for (const v of values) this.int(v);
    return this.op(0x74); // TUPLE
  }
  orderedDict(): this {
    return this.global("collections", "OrderedDict").op(0x29, 0x52); // EMPTY_TUPLE REDUCE
  }
  bytes(): Buffer {
    return Buffer.concat(this.parts);
  }
  private put(key: string): this {
    const slot = this.memo.size;
    this.memo.set(key, slot);
    if (slot < 256) return this.op(0x71, slot); // BINPUT
    const b = Buffer.alloc(4);
    b.writeUInt32LE(slot);
    this.parts.push(Buffer.from([0x72]), b); // LONG_BINPUT
    return this;
  }
  private get(slot: number): this {
    if (slot < 256) return this.op(0x68, slot); // BINGET
    const b = Buffer.alloc(4);
    b.writeUInt32LE(slot);
    this.parts.push(Buffer.from([0x6a]), b); // LONG_BINGET
    return this;
  }
}

const contiguous = (shape: number[]): number[] => shape.map((_, d) => numel(shape.slice(d + 1)));

export interface TorchSaveOptions {
  /** `{"state_dict": <plain dict>}` (LDM / Lightning .ckpt) instead of a bare state dict. */
  wrapped?: boolean;
  /** A collections.OrderedDict with torch's `_metadata` attribute (module.state_dict()), else a plain dict. */
  ordered?: boolean;
}

/** data.pkl for `tensors`, storage i holding tensor i. */
export function statePickle(tensors: TensorSpec[], options: TorchSaveOptions): Buffer {
  const p = new PickleWriter().op(0x80, 2); // PROTO 2
  if (options.wrapped) p.op(0x7d).str("state_dict"); // EMPTY_DICT
  if (options.ordered) p.orderedDict();
  else p.op(0x7d);
  for (let start = 0; start < tensors.length; start += 1000) {
    p.op(0x28); // MARK: SETITEMS in batches of 1000, as pickle does
    tensors.slice(start, start + 1000).forEach((t, k) => {
      const i = start + k;
      p.str(t.name).global("torch._utils", "_rebuild_tensor_v2").op(0x28); // MARK
      // persistent id ('storage', torch.<X>Storage, key, 'cpu', numel)
      p.op(0x28).memoStr("storage").global("torch", STORAGE_CLASS[t.dtype]).str(String(i)).memoStr("cpu").int(numel(t.shape)).op(0x74, 0x51); // TUPLE BINPERSID
      p.int(0).ints(t.shape).ints(contiguous(t.shape)).op(0x89).orderedDict(); // offset, size, stride, requires_grad False, hooks
      p.op(0x74, 0x52); // TUPLE REDUCE
    });
    p.op(0x75); // SETITEMS
  }
  // BUILD {"_metadata": OrderedDict({"": {"version": 1}})}
  if (options.ordered) p.op(0x7d).str("_metadata").orderedDict().str("").op(0x7d).str("version").int(1).op(0x73, 0x73, 0x73, 0x62);
  if (options.wrapped) p.op(0x73); // SETITEM
  return p.op(0x2e).bytes(); // STOP
}

// ---- torch.save zip ---------------------------------------------------------------------------------------

const U32_MAX = 0xffffffff;

interface CentralEntry {
  name: Buffer;
  crc: number;
  size: number;
  offset: number;
}

/**
 * A torch.save zip: `<top>/data.pkl`, `<top>/byteorder`, `<top>/data/<i>` (raw little-endian storages),
 * `<top>/version`; every entry STORED with its data 64-byte aligned (torch pads the local header's extra
 * field), CRC-32 computed while streaming and patched into the local header. ZIP64: extra fields where an
 * offset passes 4 GiB, and the zip64 end records always (as torch writes them). Returns the file's size.
 */
export function writeTorchZip(path: string, top: string, tensors: TensorSpec[], options: TorchSaveOptions & { seed?: number } = {}): number {
  const values = new Values(options.seed ?? 2);
  const central: CentralEntry[] = [];
  const fd = openSync(path, "w");
  let at = 0;
  const entry = (name: string, size: number, chunks: Iterable<Uint8Array>) => {
    const nameBytes = Buffer.from(name, "utf8");
    // extra field "FB" (0x4246) of padding so the data starts on a 64-byte boundary
    const pad = (64 - ((at + 30 + nameBytes.length + 4) % 64)) % 64;
    const extra = Buffer.concat([Buffer.from([0x46, 0x42, pad & 0xff, pad >> 8]), Buffer.alloc(pad, 0x5a)]);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(45, 4); // version needed: zip64
    local.writeUInt16LE(0, 6);
    local.writeUInt16LE(0, 8); // STORED
    local.writeUInt32LE(0, 14); // CRC, patched below
    local.writeUInt32LE(size, 18);
    local.writeUInt32LE(size, 22);
    local.writeUInt16LE(nameBytes.length, 26);
    local.writeUInt16LE(extra.length, 28);
    const offset = at;
    for (const part of [local, nameBytes, extra]) {
      writeAll(fd, part, at);
      at += part.length;
    }
    let crc = 0;
    let written = 0;
    for (const chunk of chunks) {
      crc = crc32(chunk, crc);
      writeAll(fd, chunk, at);
      at += chunk.byteLength;
      written += chunk.byteLength;
    }
    if (written !== size) throw new Error(`${name}: wrote ${written} bytes, expected ${size}`);
    const crcBytes = Buffer.alloc(4);
    crcBytes.writeUInt32LE(crc >>> 0);
    writeAll(fd, crcBytes, offset + 14);
    central.push({ name: nameBytes, crc: crc >>> 0, size, offset });
  };
  try {
    const pickle = statePickle(tensors, options);
    entry(`${top}/data.pkl`, pickle.length, [pickle]);
    entry(`${top}/byteorder`, 6, [Buffer.from("little")]);
    tensors.forEach((t, i) => entry(`${top}/data/${i}`, byteSize(t), values.bytes(t)));
    entry(`${top}/version`, 2, [Buffer.from("3\n")]);

    const cdStart = at;
    for (const e of central) {
      const big = e.offset >= U32_MAX;
      const extra = Buffer.alloc(big ? 12 : 0);
      if (big) {
        extra.writeUInt16LE(1, 0); // zip64 extended information: only the offset is 0xFFFFFFFF
        extra.writeUInt16LE(8, 2);
        extra.writeBigUInt64LE(BigInt(e.offset), 4);
      }
      const c = Buffer.alloc(46);
      c.writeUInt32LE(0x02014b50, 0);
      c.writeUInt16LE(45, 4);
      c.writeUInt16LE(45, 6);
      c.writeUInt16LE(0, 8);
      c.writeUInt16LE(0, 10);
      c.writeUInt32LE(e.crc, 16);
      c.writeUInt32LE(e.size, 20);
      c.writeUInt32LE(e.size, 24);
      c.writeUInt16LE(e.name.length, 28);
      c.writeUInt16LE(extra.length, 30);
      c.writeUInt32LE(big ? U32_MAX : e.offset, 42);
      for (const part of [c, e.name, extra]) {
        writeAll(fd, part, at);
        at += part.length;
      }
    }
    const cdSize = at - cdStart;
    const end64 = zip64End(central.length, cdSize, cdStart);
    const eocd = Buffer.alloc(22);
    eocd.writeUInt32LE(0x06054b50, 0);
    eocd.writeUInt16LE(Math.min(central.length, 0xffff), 8);
    eocd.writeUInt16LE(Math.min(central.length, 0xffff), 10);
    eocd.writeUInt32LE(Math.min(cdSize, U32_MAX), 12);
    eocd.writeUInt32LE(Math.min(cdStart, U32_MAX), 16);
    for (const part of [end64, eocd]) {
      writeAll(fd, part, at);
      at += part.length;
    }
    return at;
  } finally {
    closeSync(fd);
  }
}
