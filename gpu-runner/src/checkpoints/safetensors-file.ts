import { closeSync, fstatSync, openSync } from "node:fs";
import { DTYPE_BYTES, elementCount, readExactly, readFloats, type StoredDType, type StoredTensor, type TensorFile } from "./tensor-file.ts";

interface HeaderEntry {
  dtype: string;
  shape: number[];
  data_offsets: [number, number];
}

/** Headers are small (SD 1.5's UNet: ~100 KB); anything huge is not a safetensors file. */
const MAX_HEADER = 100 * 1024 * 1024;

function checkEntry(file: string, key: string, t: HeaderEntry, dataBytes: number): StoredDType {
  const where = `${file}: tensor ${key}`;
  if (!t || typeof t.dtype !== "string" || !Array.isArray(t.shape) || !Array.isArray(t.data_offsets)) throw new Error(`${where}: malformed header entry`);
  if (!(t.dtype in DTYPE_BYTES)) throw new Error(`${where} has dtype ${t.dtype}, which this reader does not know`);
  const dtype = t.dtype as StoredDType;
  const [begin, end] = t.data_offsets;
  if (!t.shape.every((d) => Number.isInteger(d) && d >= 0)) throw new Error(`${where}: bad shape [${t.shape}]`);
  if (!Number.isInteger(begin) || !Number.isInteger(end) || begin < 0 || end < begin) throw new Error(`${where}: bad data_offsets [${begin}, ${end}]`);
  if (end - begin !== elementCount(t.shape) * DTYPE_BYTES[dtype]) throw new Error(`${where}: ${end - begin} bytes for [${t.shape}] ${dtype}`);
  if (end > dataBytes) throw new Error(`${where} ends at byte ${end} of a ${dataBytes}-byte data section (truncated file?)`);
  return dtype;
}

/**
 * A safetensors file (u64 LE header length, JSON header, raw little-endian data). Only the header is
 * read at open; each tensor's bytes are read when asked for, so multi-GB files never sit in memory.
 */
export function openSafetensors(file: string): TensorFile {
  const fd = openSync(file, "r");
  try {
    const size = fstatSync(fd).size;
    if (size < 8) throw new Error(`${file}: ${size} bytes, too short for a safetensors file (truncated?)`);
    const headerLength = Number(readExactly(fd, 8, 0, file).readBigUInt64LE(0));
    if (headerLength < 2 || headerLength > MAX_HEADER || 8 + headerLength > size) throw new Error(`${file}: not a safetensors file, or truncated (header length ${headerLength}, file ${size} bytes)`);
    let header: Record<string, HeaderEntry>;
    try {
      header = JSON.parse(readExactly(fd, headerLength, 8, file).toString("utf8"));
    } catch (e) {
      throw new Error(`${file}: the safetensors header is not JSON (${(e as Error).message})`);
    }
    const dataStart = 8 + headerLength;
    const tensors = new Map<string, StoredTensor>();
    for (const [key, t] of Object.entries(header)) {
      if (key === "__metadata__") continue;
      const dtype = checkEntry(file, key, t, size - dataStart);
      const [begin, end] = t.data_offsets;
      tensors.set(key, {
        key,
        file,
        dtype,
        shape: t.shape,
        read: () => readFloats(fd, dtype, elementCount(t.shape), dataStart + begin, file, `${file}: tensor ${key}`),
      });
    }
    return { file, tensors, close: () => closeSync(fd) };
  } catch (e) {
    closeSync(fd);
    throw e;
  }
}
