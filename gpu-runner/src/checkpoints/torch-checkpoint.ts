import { closeSync, fstatSync, openSync } from "node:fs";
import { unpickle, type PickleValue, type TensorRef } from "./pickle.ts";
import { DTYPE_BYTES, assertFloat, elementCount, readExactly, readFloats, type StoredDType, type StoredTensor, type TensorFile } from "./tensor-file.ts";
import { listZipEntries, zipEntryDataOffset, type ZipEntry } from "./zip-entries.ts";

const STORAGE_DTYPES: Record<string, StoredDType> = {
  FloatStorage: "F32",
  HalfStorage: "F16",
  BFloat16Storage: "BF16",
  DoubleStorage: "F64",
  LongStorage: "I64",
  IntStorage: "I32",
  ShortStorage: "I16",
  CharStorage: "I8",
  ByteStorage: "U8",
  BoolStorage: "BOOL",
};

/** The state dict: the top object, or its `state_dict` entry (Lightning / LDM `.ckpt` files). */
function stateDictOf(root: PickleValue, file: string): Map<PickleValue, PickleValue> {
  if (!(root instanceof Map)) throw new Error(`${file}: the checkpoint's top object is not a dict`);
  const inner = root.get("state_dict");
  return inner instanceof Map ? inner : root;
}

/** Row-major gather of a strided view out of `span` (which starts at the view's storage offset). */
function gather(span: Float32Array, shape: readonly number[], stride: readonly number[]): Float32Array {
  const out = new Float32Array(elementCount(shape));
  const index = new Array<number>(shape.length).fill(0);
  let src = 0;
  for (let i = 0; i < out.length; i++) {
    out[i] = span[src];
    for (let d = shape.length - 1; d >= 0; d--) {
      src += stride[d];
      if (++index[d] < shape[d]) break;
      src -= stride[d] * shape[d];
      index[d] = 0;
    }
  }
  return out;
}

const isContiguous = (shape: readonly number[], stride: readonly number[]): boolean => {
  let expected = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    if (shape[d] !== 1 && stride[d] !== expected) return false; // a size-1 dimension's stride is never used
    expected *= shape[d];
  }
  return true;
};

/**
 * Opens a `torch.save` zip checkpoint (torch ≥ 1.6) without executing it: `<top>/data.pkl` is read with a
 * strict unpickler and each tensor's bytes stay in `<top>/data/<key>` until `read()`. Every storage is checked
 * to exist and to hold its tensor at open time, so a damaged file fails before anything is computed from it.
 */
export function openTorchCheckpoint(path: string): TensorFile {
  const fd = openSync(path, "r");
  try {
    return openFd(fd, path);
  } catch (e) {
    closeSync(fd);
    throw e;
  }
}

function openFd(fd: number, file: string): TensorFile {
  // The legacy format is a bare pickle stream (PROTO 2 …), a zip starts "PK".
  if (fstatSync(fd).size > 0 && readExactly(fd, 1, 0, file)[0] === 0x80) throw new Error(`${file}: a legacy (pre-1.6, non-zip) torch.save file; not supported — re-save it with torch >= 1.6 (torch.save's default zip format)`);
  const entries = listZipEntries(fd, file);
  const byName = new Map<string, ZipEntry>(entries.map((e) => [e.name, e]));

  const pickles = entries.filter((e) => /^[^/]+\/data\.pkl$/.test(e.name));
  if (pickles.length !== 1) throw new Error(`${file}: a zip but not a torch.save checkpoint (${pickles.length} <folder>/data.pkl entries, expected 1)`);
  const top = pickles[0].name.slice(0, -"data.pkl".length);
  // torch ≥ 2.1 records the byte order; the storages are read as little-endian.
  const byteorder = byName.get(`${top}byteorder`);
  if (byteorder && byteorder.size < 16) {
    const order = readExactly(fd, byteorder.size, zipEntryDataOffset(fd, byteorder, file), file).toString("latin1").trim();
    if (order !== "little") throw new Error(`${file}: storages are ${order}-endian; only little-endian checkpoints are read`);
  }

  const pickle = pickles[0];
  const root = unpickle(readExactly(fd, pickle.size, zipEntryDataOffset(fd, pickle, file), file), `${file} (${pickle.name})`);

  const dataOffsets = new Map<string, number>();
  const tensors = new Map<string, StoredTensor>();
  for (const [key, value] of stateDictOf(root, file)) {
    if (typeof key !== "string" || typeof value !== "object" || value === null || (value as { kind?: unknown }).kind !== "tensor") continue;
    const t = value as TensorRef;
    const dtype = STORAGE_DTYPES[t.storage.storageClass];
    const entryName = `${top}data/${t.storage.key}`;
    const entry = byName.get(entryName);
    if (!entry) throw new Error(`${file}: tensor ${key} refers to storage ${entryName}, which is not in the archive`);
    if (!dataOffsets.has(entryName)) dataOffsets.set(entryName, zipEntryDataOffset(fd, entry, file));
    const dataOffset = dataOffsets.get(entryName)!;

    // The elements the view touches: storage offset up to offset + Σ (size − 1)·stride.
    const bytesPer = DTYPE_BYTES[dtype];
    const empty = t.shape.includes(0);
    const span = empty ? 0 : t.shape.reduce((s, n, d) => s + (n - 1) * t.stride[d], 0) + 1;
    const needed = empty ? 0 : (t.storageOffset + span) * bytesPer;
    const available = Math.min(entry.size, t.storage.numel * bytesPer);
    if (!Number.isSafeInteger(needed) || needed > available)
      throw new Error(`${file}: tensor ${key} (${dtype} [${t.shape.join(", ")}], offset ${t.storageOffset}, stride [${t.stride.join(", ")}]) needs ${needed} bytes of ${entryName}, which holds ${entry.size} (storage of ${t.storage.numel} elements); truncated or corrupt`);

    const what = `${file}: ${key}`;
    tensors.set(key, {
      key,
      file,
      dtype,
      shape: t.shape,
      read(): Float32Array {
        assertFloat(dtype, what);
        if (empty) return new Float32Array(0);
        const values = readFloats(fd, dtype, span, dataOffset + t.storageOffset * bytesPer, file, what);
        return isContiguous(t.shape, t.stride) ? values : gather(values, t.shape, t.stride);
      },
    });
  }

  let closed = false;
  return {
    file,
    tensors,
    close() {
      if (!closed) closeSync(fd);
      closed = true;
    },
  };
}
