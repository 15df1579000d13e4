import { fstatSync } from "node:fs";
import { readExactly } from "./tensor-file.ts";

/**
 * A minimal read-only zip reader: the central directory and the local headers, nothing else. Enough for
 * `torch.save` archives, whose entries are STORED; data is never read here, only located.
 */

export interface ZipEntry {
  readonly name: string;
  /** 0 = STORED, 8 = DEFLATE, … */
  readonly method: number;
  readonly compressedSize: number;
  readonly size: number;
  readonly localHeaderOffset: number;
}

const EOCD_SIG = 0x06054b50;
const ZIP64_LOCATOR_SIG = 0x07064b50;
const ZIP64_EOCD_SIG = 0x06064b50;
const CENTRAL_SIG = 0x02014b50;
const LOCAL_SIG = 0x04034b50;
const EOCD_SIZE = 22;
const MAX_COMMENT = 0xffff;

function u64(buf: Buffer, at: number, file: string): number {
  const v = buf.readBigUInt64LE(at);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error(`${file}: zip field of ${v} bytes is beyond what this reader handles (corrupt?)`);
  return Number(v);
}

const notZip = (file: string, why: string) => new Error(`${file}: not a zip archive or truncated (${why})`);

/** Lists the entries of the central directory, in directory order. Reads only the directory (and its end records). */
export function listZipEntries(fd: number, file: string): ZipEntry[] {
  const fileSize = fstatSync(fd).size;
  if (fileSize < EOCD_SIZE) throw notZip(file, `${fileSize} bytes`);

  // The End Of Central Directory record sits at the end, followed only by a comment of ≤ 64 KiB.
  const tailLength = Math.min(fileSize, EOCD_SIZE + MAX_COMMENT);
  const tailStart = fileSize - tailLength;
  const tail = readExactly(fd, tailLength, tailStart, file);
  let eocd = -1;
  for (let i = tailLength - EOCD_SIZE; i >= 0; i--) {
    // The comment length must reach exactly to the end, so a signature inside the comment is not taken.
    if (tail.readUInt32LE(i) === EOCD_SIG && i + EOCD_SIZE + tail.readUInt16LE(i + 20) === tailLength) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw notZip(file, "no end-of-central-directory record");

  let count = tail.readUInt16LE(eocd + 10);
  let cdSize = tail.readUInt32LE(eocd + 12);
  let cdOffset = tail.readUInt32LE(eocd + 16);
  const eocdPosition = tailStart + eocd;

  // ZIP64: a locator just before the EOCD points at the zip64 EOCD record with 64-bit counts and offsets.
  // (torch writes both records for every archive, not only past 4 GiB.)
  let directoryEnd = eocdPosition;
  if (eocdPosition >= 20) {
    const locator = readExactly(fd, 20, eocdPosition - 20, file);
    if (locator.readUInt32LE(0) === ZIP64_LOCATOR_SIG) {
      const recordPosition = u64(locator, 8, file);
      if (recordPosition + 56 > eocdPosition - 20) throw notZip(file, "zip64 end record out of range");
      const record = readExactly(fd, 56, recordPosition, file);
      if (record.readUInt32LE(0) !== ZIP64_EOCD_SIG) throw notZip(file, "bad zip64 end record");
      count = u64(record, 32, file);
      cdSize = u64(record, 40, file);
      cdOffset = u64(record, 48, file);
      directoryEnd = recordPosition;
    }
  }
  if (cdOffset + cdSize > directoryEnd) throw notZip(file, `central directory at ${cdOffset}+${cdSize} runs past ${directoryEnd}`);
  // Every central entry takes at least 46 bytes: bounds the count before anything is allocated for it.
  if (count * 46 > cdSize) throw notZip(file, `${count} entries cannot fit in a ${cdSize}-byte central directory`);

  const cd = readExactly(fd, cdSize, cdOffset, file);
  const entries: ZipEntry[] = [];
  let at = 0;
  for (let n = 0; n < count; n++) {
    if (at + 46 > cdSize || cd.readUInt32LE(at) !== CENTRAL_SIG) throw notZip(file, `bad central directory entry ${n}`);
    const flags = cd.readUInt16LE(at + 8);
    const method = cd.readUInt16LE(at + 10);
    let compressedSize = cd.readUInt32LE(at + 20);
    let size = cd.readUInt32LE(at + 24);
    const nameLength = cd.readUInt16LE(at + 28);
    const extraLength = cd.readUInt16LE(at + 30);
    const commentLength = cd.readUInt16LE(at + 32);
    let localHeaderOffset = cd.readUInt32LE(at + 42);
    const next = at + 46 + nameLength + extraLength + commentLength;
    if (next > cdSize) throw notZip(file, `central directory entry ${n} runs past the directory`);
    const name = cd.toString(flags & 0x800 ? "utf8" : "latin1", at + 46, at + 46 + nameLength);
    if (flags & 1) throw new Error(`${file}: zip entry ${name} is encrypted`);

    // A zip64 extra field (id 1) holds, in this order, only those of size / compressed size / offset that are 0xFFFFFFFF.
    for (let x = at + 46 + nameLength; x + 4 <= at + 46 + nameLength + extraLength; ) {
      const id = cd.readUInt16LE(x);
      const length = cd.readUInt16LE(x + 2);
      if (x + 4 + length > at + 46 + nameLength + extraLength) throw notZip(file, `bad extra field in entry ${name}`);
      if (id === 1) {
        let p = x + 4;
        const take = (): number => {
          if (p + 8 > x + 4 + length) throw notZip(file, `short zip64 extra field in entry ${name}`);
          const v = u64(cd, p, file);
          p += 8;
          return v;
        };
        if (size === 0xffffffff) size = take();
        if (compressedSize === 0xffffffff) compressedSize = take();
        if (localHeaderOffset === 0xffffffff) localHeaderOffset = take();
      }
      x += 4 + length;
    }
    entries.push({ name, method, compressedSize, size, localHeaderOffset });
    at = next;
  }
  return entries;
}

/**
 * Where a STORED entry's bytes begin: after its local header, whose extra field differs from the central one
 * (torch pads it so data is 64-byte aligned). Checks that the data lies inside the file.
 */
export function zipEntryDataOffset(fd: number, entry: ZipEntry, file: string): number {
  if (entry.method !== 0) throw new Error(`${file}: zip entry ${entry.name} is compressed (method ${entry.method}); torch.save writes entries stored, so this reader does not inflate`);
  if (entry.compressedSize !== entry.size) throw new Error(`${file}: zip entry ${entry.name} is stored but its sizes differ (${entry.compressedSize} vs ${entry.size})`);
  const fileSize = fstatSync(fd).size;
  if (entry.localHeaderOffset + 30 > fileSize) throw notZip(file, `local header of ${entry.name} is past the end`);
  const header = readExactly(fd, 30, entry.localHeaderOffset, file);
  if (header.readUInt32LE(0) !== LOCAL_SIG) throw notZip(file, `bad local header for ${entry.name}`);
  const dataOffset = entry.localHeaderOffset + 30 + header.readUInt16LE(26) + header.readUInt16LE(28);
  if (dataOffset + entry.size > fileSize) throw notZip(file, `entry ${entry.name} (${entry.size} bytes at ${dataOffset}) runs past the end of the ${fileSize}-byte file`);
  return dataOffset;
}
