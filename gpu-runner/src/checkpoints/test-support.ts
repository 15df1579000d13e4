import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { StoredDType } from "./tensor-file.ts";

/** Test fixtures built by hand: STORED zips (optionally ZIP64) and torch-style pickles. */

/** The parity fixtures (outside the project, never copied into it). */
export const PARITY = fileURLToPath(new URL("../../../../shared/data/parity/", import.meta.url));

const LISTED_DTYPES: Record<string, StoredDType> = { float32: "F32", float16: "F16", bfloat16: "BF16", int64: "I64", int32: "I32" };

/** A fixture's `*-keys.txt`: `name<TAB>dtype<TAB>[shape]` lines, in file order. */
export function keysListing(path: string): [string, StoredDType, number[]][] {
  return readFileSync(path, "utf8")
    .trim()
    .split("\n")
    .map((line) => {
      const [name, dtype, shape] = line.split("\t");
      return [name, LISTED_DTYPES[dtype], JSON.parse(shape) as number[]];
    });
}

function crc32(data: Uint8Array): number {
  let crc = ~0;
  for (const byte of data) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = (crc >>> 1) ^ (0xedb88320 & -(crc & 1));
  }
  return ~crc >>> 0;
}

export interface ZipInput {
  name: string;
  data: Uint8Array;
  /** Recorded as is (the data is never compressed): to test that a non-stored entry is refused. */
  method?: number;
}

export interface ZipOptions {
  /** Write 0xFFFFFFFF in the 32-bit fields and the real values in zip64 extras and end records. */
  zip64?: boolean;
  comment?: string;
  /** Pad local headers' extra field so data is 64-byte aligned, as torch does. */
  align?: boolean;
}

/** ZIP64's end of central directory record and its locator, for `count` entries (they precede the classic record). */
export function zip64End(count: number, cdSize: number, cdOffset: number): Buffer {
  const record = Buffer.alloc(56);
  record.writeUInt32LE(0x06064b50, 0);
  record.writeBigUInt64LE(44n, 4);
  record.writeUInt16LE(45, 12);
  record.writeUInt16LE(45, 14);
  record.writeBigUInt64LE(BigInt(count), 24);
  record.writeBigUInt64LE(BigInt(count), 32);
  record.writeBigUInt64LE(BigInt(cdSize), 40);
  record.writeBigUInt64LE(BigInt(cdOffset), 48);
  const locator = Buffer.alloc(20);
  locator.writeUInt32LE(0x07064b50, 0);
  locator.writeBigUInt64LE(BigInt(cdOffset + cdSize), 8);
  locator.writeUInt32LE(1, 16);
  return Buffer.concat([record, locator]);
}

/** A STORED zip in memory. */
export function storedZip(entries: ZipInput[], options: ZipOptions = {}): Buffer {
  const parts: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = Buffer.from(e.name, "utf8");
    const pad = options.align ? (64 - ((offset + 30 + name.length + 4) % 64)) % 64 : 0;
    const localExtra = options.align ? Buffer.concat([Buffer.from([0x46, 0x42, pad & 0xff, pad >> 8]), Buffer.alloc(pad, 0x5a)]) : Buffer.alloc(0);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(45, 4);
    local.writeUInt16LE(0x800, 6);
    local.writeUInt16LE(e.method ?? 0, 8);
    local.writeUInt32LE(crc32(e.data), 14);
    local.writeUInt32LE(e.data.length, 18);
    local.writeUInt32LE(e.data.length, 22);
    local.writeUInt16LE(name.length, 26);
    local.writeUInt16LE(localExtra.length, 28);
    parts.push(local, name, localExtra, Buffer.from(e.data));

    const extra = Buffer.alloc(options.zip64 ? 28 : 0);
    if (options.zip64) {
      extra.writeUInt16LE(1, 0);
      extra.writeUInt16LE(24, 2);
      extra.writeBigUInt64LE(BigInt(e.data.length), 4);
      extra.writeBigUInt64LE(BigInt(e.data.length), 12);
      extra.writeBigUInt64LE(BigInt(offset), 20);
    }
    const c = Buffer.alloc(46);
    c.writeUInt32LE(0x02014b50, 0);
    c.writeUInt16LE(45, 4);
    c.writeUInt16LE(45, 6);
    c.writeUInt16LE(0x800, 8);
    c.writeUInt16LE(e.method ?? 0, 10);
    c.writeUInt32LE(crc32(e.data), 16);
    c.writeUInt32LE(options.zip64 ? 0xffffffff : e.data.length, 20);
    c.writeUInt32LE(options.zip64 ? 0xffffffff : e.data.length, 24);
    c.writeUInt16LE(name.length, 28);
    c.writeUInt16LE(extra.length, 30);
    c.writeUInt32LE(options.zip64 ? 0xffffffff : offset, 42);
    central.push(c, name, extra);
    offset += 30 + name.length + localExtra.length + e.data.length;
  }
  const cd = Buffer.concat(central);
  const cdOffset = offset;
  parts.push(cd);
  if (options.zip64) parts.push(zip64End(entries.length, cd.length, cdOffset));
  const comment = Buffer.from(options.comment ?? "", "utf8");
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(0x06054b50, 0);
  eocd.writeUInt16LE(options.zip64 ? 0xffff : entries.length, 8);
  eocd.writeUInt16LE(options.zip64 ? 0xffff : entries.length, 10);
  eocd.writeUInt32LE(options.zip64 ? 0xffffffff : cd.length, 12);
  eocd.writeUInt32LE(options.zip64 ? 0xffffffff : cdOffset, 16);
  eocd.writeUInt16LE(comment.length, 20);
  parts.push(eocd, comment);
  return Buffer.concat(parts);
}

/** Writes pickle opcodes (protocol 2, as torch.save does). */
export class Pickler {
  private readonly out: number[] = [];
  raw(...bytes: number[]): this {
    this.out.push(...bytes);
    return this;
  }
  proto(version = 2): this {
    return this.raw(0x80, version);
  }
  str(s: string): this {
    const b = Buffer.from(s, "utf8");
    return this.raw(0x58, ...u32(b.length), ...b); // BINUNICODE
  }
  int(n: number): this {
    if (n >= 0 && n < 256) return this.raw(0x4b, n);
    if (n >= 0 && n < 65536) return this.raw(0x4d, n & 0xff, n >> 8);
    return this.raw(0x4a, ...u32(n >>> 0));
  }
  bool(b: boolean): this {
    return this.raw(b ? 0x88 : 0x89);
  }
  global(module: string, name: string): this {
    return this.raw(0x63, ...Buffer.from(`${module}\n${name}\n`, "latin1"));
  }
  mark(): this {
    return this.raw(0x28);
  }
  /** MARK … TUPLE around what `body` writes. */
  tuple(body: (p: this) => void): this {
    this.mark();
    body(this);
    return this.raw(0x74);
  }
  ints(values: readonly number[]): this {
    return this.tuple((p) => values.forEach((v) => p.int(v)));
  }
  orderedDict(): this {
    return this.global("collections", "OrderedDict").raw(0x29, 0x52); // EMPTY_TUPLE REDUCE
  }
  bytes(): Buffer {
    return Buffer.from(this.out);
  }
  /** STOP, and the bytes. */
  stop(): Buffer {
    return this.raw(0x2e).bytes();
  }
}

const u32 = (n: number): number[] => [n & 0xff, (n >> 8) & 0xff, (n >> 16) & 0xff, (n >>> 24) & 0xff];

export interface TensorSpec {
  name: string;
  storageClass?: string;
  /** Storage key: the zip entry is `<top>/data/<key>`. */
  key: string;
  numel: number;
  offset?: number;
  shape: number[];
  /** Row-major contiguous when left out. */
  stride?: number[];
  /** Wrap in torch._utils._rebuild_parameter. */
  parameter?: boolean;
}

const contiguous = (shape: number[]): number[] => shape.map((_, d) => shape.slice(d + 1).reduce((a, b) => a * b, 1));

/** One tensor as torch pickles it: `_rebuild_tensor_v2(persistent storage, offset, size, stride, False, OrderedDict())`. */
export function writeTensor(p: Pickler, t: TensorSpec): Pickler {
  if (t.parameter) p.global("torch._utils", "_rebuild_parameter").mark();
  p.global("torch._utils", "_rebuild_tensor_v2").tuple((q) => {
    q.tuple((r) => r.str("storage").global("torch", t.storageClass ?? "FloatStorage").str(t.key).str("cpu").int(t.numel)).raw(0x51); // BINPERSID
    q.int(t.offset ?? 0).ints(t.shape).ints(t.stride ?? contiguous(t.shape)).bool(false).orderedDict();
  });
  p.raw(0x52); // REDUCE
  if (t.parameter) p.bool(false).orderedDict().raw(0x74, 0x52); // (tensor, False, OrderedDict()) TUPLE REDUCE
  return p;
}

export interface StateDictOptions {
  /** collections.OrderedDict with a `_metadata` BUILD (as module.state_dict()), else a plain dict. */
  ordered?: boolean;
  /** `{"state_dict": …, "global_step": 7}` instead of the state dict at the top. */
  wrapped?: boolean;
  /** Non-tensor entries written after the tensors, inside the state dict. */
  extras?: Record<string, number>;
}

/** data.pkl of a state dict of `tensors`. */
export function stateDictPickle(tensors: TensorSpec[], options: StateDictOptions = {}): Buffer {
  const p = new Pickler().proto();
  if (options.wrapped) p.raw(0x7d).str("state_dict"); // EMPTY_DICT
  if (options.ordered) p.orderedDict();
  else p.raw(0x7d);
  p.mark();
  for (const t of tensors) writeTensor(p.str(t.name), t);
  for (const [k, v] of Object.entries(options.extras ?? {})) p.str(k).int(v);
  p.raw(0x75); // SETITEMS
  // BUILD {"_metadata": OrderedDict({"": {"version": 1}})}, the instance dict torch's OrderedDict carries
  if (options.ordered) p.raw(0x7d).str("_metadata").orderedDict().str("").raw(0x7d).str("version").int(1).raw(0x73, 0x73, 0x73, 0x62);
  if (options.wrapped) p.raw(0x73).str("global_step").int(7).raw(0x73); // SETITEM ×2
  return p.stop();
}

/** A torch.save-style zip: `<top>/data.pkl`, `<top>/data/<key>`, `<top>/version`. */
export function torchZip(top: string, pickle: Uint8Array, storages: Record<string, Uint8Array>, options: ZipOptions = { align: true }): Buffer {
  return storedZip(
    [
      { name: `${top}/data.pkl`, data: pickle },
      ...Object.entries(storages).map(([key, data]) => ({ name: `${top}/data/${key}`, data })),
      { name: `${top}/version`, data: Buffer.from("3\n") },
    ],
    options,
  );
}

export const f32Bytes = (values: number[]): Buffer => Buffer.from(new Float32Array(values).buffer);

/** A temporary folder for written fixtures; `cleanup()` removes it. */
export function tempDir(): { path(name: string): string; write(name: string, data: Uint8Array): string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), "checkpoints-test-"));
  return {
    path: (name) => join(dir, name),
    write(name, data) {
      writeFileSync(join(dir, name), data);
      return join(dir, name);
    },
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

export interface SafetensorsInput {
  dtype: string;
  shape: number[];
  bytes: Uint8Array;
}

/** A safetensors file: u64 LE header length, JSON header, raw little-endian data. */
export function safetensorsBytes(tensors: Record<string, SafetensorsInput>): Buffer {
  let offset = 0;
  const header: Record<string, unknown> = { __metadata__: { format: "pt" } };
  for (const [name, t] of Object.entries(tensors)) {
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + t.bytes.length] };
    offset += t.bytes.length;
  }
  const json = Buffer.from(JSON.stringify(header));
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(json.length));
  return Buffer.concat([length, json, ...Object.values(tensors).map((t) => t.bytes)]);
}
