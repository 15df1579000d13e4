import { closeSync, openSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { readExactly } from "./tensor-file.ts";
import { PARITY, storedZip, tempDir } from "./test-support.ts";
import { listZipEntries, zipEntryDataOffset, type ZipEntry } from "./zip-entries.ts";

const CHECKPOINT = join(PARITY, "fastcomposer-checkpoint", "fastcomposer", "pytorch_model.bin");
const tmp = tempDir();
afterAll(() => tmp.cleanup());

/** Entries and each entry's bytes, read through the reader. */
function readZip(file: string): { entries: ZipEntry[]; data: Map<string, Buffer> } {
  const fd = openSync(file, "r");
  try {
    const entries = listZipEntries(fd, file);
    return { entries, data: new Map(entries.map((e) => [e.name, readExactly(fd, e.size, zipEntryDataOffset(fd, e, file), file)])) };
  } finally {
    closeSync(fd);
  }
}

const inputs = [
  { name: "a/data.pkl", data: Buffer.from([0x80, 2, 0x4e, 0x2e]) },
  { name: "a/data/0", data: Buffer.alloc(100, 7) },
  { name: "a/ünïcode", data: Buffer.from("x") },
];

describe("listZipEntries", () => {
  it("reads torch.save's archive: STORED entries, data after the padded local header", () => {
    const { entries, data } = readZip(CHECKPOINT);
    expect(entries).toHaveLength(1016);
    expect(entries[0].name).toBe("pytorch_model/data.pkl");
    expect(entries.at(-1)!.name).toBe("pytorch_model/version");
    expect(entries.every((e) => e.method === 0 && e.size === e.compressedSize)).toBe(true);
    const pkl = data.get("pytorch_model/data.pkl")!;
    expect([pkl[0], pkl[1], pkl.at(-1)]).toEqual([0x80, 2, 0x2e]); // PROTO 2 … STOP
    expect(data.get("pytorch_model/version")!.toString()).toBe("3\n");
  });

  it.each([
    ["plain", {}],
    ["zip64 fields and end records", { zip64: true }],
    ["aligned local headers", { align: true }],
    ["a comment holding a fake end signature", { comment: "x PK\x05\x06 y" }],
    ["all of them", { zip64: true, align: true, comment: "PK\x05\x06" }],
  ])("lists a hand-built zip: %s", (_, options) => {
    const { entries, data } = readZip(tmp.write("z.zip", storedZip(inputs, options)));
    expect(entries.map((e) => [e.name, e.size])).toEqual(inputs.map((i) => [i.name, i.data.length]));
    for (const i of inputs) expect(data.get(i.name)).toEqual(i.data);
  });

  it("refuses a compressed entry, naming it", () => {
    const file = tmp.write("deflated.zip", storedZip([inputs[0], { ...inputs[1], method: 8 }]));
    expect(() => readZip(file)).toThrow(/a\/data\/0 is compressed \(method 8\)/);
  });

  it.each([
    ["empty", Buffer.alloc(0)],
    ["not a zip", Buffer.from("hello, this is plainly not a zip archive at all")],
    ["the first 100 bytes of a checkpoint", readFileSync(CHECKPOINT).subarray(0, 100)],
    ["half a checkpoint", readFileSync(CHECKPOINT).subarray(0, 2_131_193)],
  ])("%s: 'not a zip archive or truncated', naming the file", (name, bytes) => {
    const file = tmp.write(`${name}.bin`, bytes);
    expect(() => readZip(file)).toThrow(`${file}: not a zip archive or truncated`);
  });

  it("an entry whose data would run past the end of the file", () => {
    const file = tmp.write("short.zip", storedZip(inputs));
    const fd = openSync(file, "r");
    try {
      const entry = listZipEntries(fd, file)[1];
      expect(zipEntryDataOffset(fd, entry, file)).toBeGreaterThan(0);
      expect(() => zipEntryDataOffset(fd, { ...entry, size: 1e6, compressedSize: 1e6 }, file)).toThrow(`${file}: not a zip archive or truncated (entry a/data/0 (1000000 bytes`);
    } finally {
      closeSync(fd);
    }
  });
});
