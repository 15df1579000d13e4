import { closeSync, existsSync, openSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { floatsFromBytes, readExactly, type StoredDType, type TensorFile } from "./tensor-file.ts";
import { PARITY, Pickler, keysListing, f32Bytes, stateDictPickle, storedZip, tempDir, torchZip, type TensorSpec } from "./test-support.ts";
import { openTorchCheckpoint } from "./torch-checkpoint.ts";

const at = (path: string): string => join(PARITY, path);
const FASTCOMPOSER = at("fastcomposer-checkpoint/fastcomposer/pytorch_model.bin");
const POSTFUSE_F32 = at("fastcomposer-checkpoint/dtype-variants/postfuse_module.float32.bin");
const POSTFUSE_BF16 = at("fastcomposer-checkpoint/dtype-variants/postfuse_module.bfloat16.bin");
const SD15_CKPT = at("sd15-single-file/model.ckpt");
const SD15_SAFETENSORS = at("sd15-single-file/model.safetensors");

const tmp = tempDir();
afterAll(() => tmp.cleanup());


function withFile<T>(path: string, body: (f: TensorFile) => T): T {
  const f = openTorchCheckpoint(path);
  try {
    return body(f);
  } finally {
    f.close();
  }
}

const listing = (f: TensorFile) => [...f.tensors.values()].map((t) => [t.key, t.dtype, t.shape]);

/** The first index where two arrays differ (NaN-aware), or −1. */
function firstDifference(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) return 0;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i] && !(Number.isNaN(a[i]) && Number.isNaN(b[i]))) return i;
  return -1;
}

describe("openTorchCheckpoint on the fixtures", () => {
  it("FastComposer's pytorch_model.bin (OrderedDict, float16 + int64): every key, dtype and shape, in order", () => {
    withFile(FASTCOMPOSER, (f) => {
      expect(f.file).toBe(FASTCOMPOSER);
      expect(listing(f)).toEqual(keysListing(at("fastcomposer-checkpoint/checkpoint-keys.txt")));
    });
  });

  it("the SD 1.5 model.ckpt ({state_dict: dict}): every key, dtype and shape, in order", () => {
    withFile(SD15_CKPT, (f) => expect(listing(f)).toEqual(keysListing(at("sd15-single-file/model-keys.txt"))));
  });

  it("model.ckpt's values equal model.safetensors' (every 5th tensor, all names, dtypes and shapes)", () => {
    const fd = openSync(SD15_SAFETENSORS, "r");
    try {
      const headerLength = Number(readExactly(fd, 8, 0, SD15_SAFETENSORS).readBigUInt64LE(0));
      const header = JSON.parse(readExactly(fd, headerLength, 8, SD15_SAFETENSORS).toString("utf8")) as Record<string, { dtype: StoredDType; shape: number[]; data_offsets: [number, number] }>;
      withFile(SD15_CKPT, (f) => {
        expect(new Set(f.tensors.keys())).toEqual(new Set(Object.keys(header).filter((k) => k !== "__metadata__")));
        [...f.tensors.values()].forEach((t, i) => {
          const h = header[t.key];
          expect([t.dtype, t.shape]).toEqual([h.dtype, h.shape]);
          if (i % 5 && !t.key.endsWith("position_ids")) return; // decoding all 1.8M halves twice takes 0.4 s
          const raw = readExactly(fd, h.data_offsets[1] - h.data_offsets[0], 8 + headerLength + h.data_offsets[0], SD15_SAFETENSORS);
          expect(firstDifference(t.read(), floatsFromBytes(raw, h.dtype, t.key)), t.key).toBe(-1);
        });
      });
    } finally {
      closeSync(fd);
    }
  });

  it("float32 and bfloat16 storages: float32 = the checkpoint's float16 values, bfloat16 = those rounded to nearest even", () => {
    const f16 = withFile(FASTCOMPOSER, (f) => new Map([...f.tensors].filter(([k]) => k.startsWith("postfuse_module.")).map(([k, t]) => [k, t.read()])));
    const f32 = withFile(POSTFUSE_F32, (f) => new Map([...f.tensors].map(([k, t]) => [k, { dtype: t.dtype, values: t.read() }])));
    const bf16 = withFile(POSTFUSE_BF16, (f) => new Map([...f.tensors].map(([k, t]) => [k, { dtype: t.dtype, values: t.read() }])));
    expect([...f32.keys()]).toEqual([...f16.keys()]);
    expect([...bf16.keys()]).toEqual([...f16.keys()]);
    expect(f16.size).toBe(14);
    for (const [key, reference] of f16) {
      const a = f32.get(key)!;
      const b = bf16.get(key)!;
      expect([a.dtype, b.dtype]).toEqual(["F32", "BF16"]);
      expect(firstDifference(a.values, reference), key).toBe(-1);
      // Round-to-nearest-even of the float32 bits to bfloat16's 8-bit significand.
      const bits = new Uint32Array(a.values.buffer.slice(0));
      const rounded = new Float32Array(bits.map((x) => (x + 0x7fff + ((x >> 16) & 1)) & 0xffff0000).buffer);
      expect(firstDifference(b.values, rounded), key).toBe(-1);
      const beyondHalfUlp = a.values.findIndex((x, i) => Math.abs(b.values[i] - x) > Math.abs(x) * 2 ** -8);
      expect(beyondHalfUlp, key).toBe(-1);
    }
  });

  it("reading an int64 tensor throws, naming file and key", () => {
    withFile(FASTCOMPOSER, (f) => {
      const ids = f.tensors.get("text_encoder.embeddings.position_ids")!;
      expect([ids.dtype, ids.shape]).toEqual(["I64", [1, 77]]);
      expect(() => ids.read()).toThrow(`${FASTCOMPOSER}: text_encoder.embeddings.position_ids has dtype I64; a weight must be F32, F16 or BF16`);
    });
  });
});

describe("openTorchCheckpoint on damaged and foreign files", () => {
  const whole = readFileSync(FASTCOMPOSER);

  it.each([
    ["half its length", whole.length >> 1],
    ["100 bytes", 100],
    ["0 bytes", 0],
  ])("a checkpoint truncated to %s: a clear error naming the file", (_, length) => {
    const file = tmp.write(`truncated-${length}.bin`, whole.subarray(0, length));
    expect(() => openTorchCheckpoint(file)).toThrow(`${file}: not a zip archive or truncated`);
  });

  it("a legacy (non-zip) torch.save file", () => {
    // The legacy format opens with the pickled magic number 0x1950a86a20f9469cfc6c.
    const file = tmp.write("legacy.pt", Buffer.from([0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e]));
    expect(() => openTorchCheckpoint(file)).toThrow(`${file}: a legacy (pre-1.6, non-zip) torch.save file`);
  });

  it("a zip that is not a checkpoint, or whose pickle is not a dict", () => {
    const plain = tmp.write("plain.zip", storedZip([{ name: "readme.txt", data: Buffer.from("hi") }]));
    expect(() => openTorchCheckpoint(plain)).toThrow(`${plain}: a zip but not a torch.save checkpoint (0 <folder>/data.pkl entries`);
    const pkl = stateDictPickle([]);
    const two = tmp.write("two.zip", storedZip([{ name: "a/data.pkl", data: pkl }, { name: "b/data.pkl", data: pkl }]));
    expect(() => openTorchCheckpoint(two)).toThrow(`${two}: a zip but not a torch.save checkpoint (2 <folder>/data.pkl entries`);
    const none = tmp.write("none.pt", torchZip("a", new Pickler().proto().raw(0x4e).stop(), {}));
    expect(() => openTorchCheckpoint(none)).toThrow(`${none}: the checkpoint's top object is not a dict`);
    withFile(tmp.write("empty.pt", torchZip("a", pkl, {})), (f) => expect(f.tensors.size).toBe(0));
  });

  it("a storage entry shorter than its tensor: an error at open naming the tensor", () => {
    const pickle = stateDictPickle([{ name: "ok", key: "0", numel: 2, shape: [2] }, { name: "layer.weight", key: "1", numel: 4, shape: [2, 2] }]);
    const file = tmp.write("short-storage.pt", torchZip("archive", pickle, { "0": f32Bytes([1, 2]), "1": f32Bytes([1, 2, 3]) }));
    expect(() => openTorchCheckpoint(file)).toThrow(`${file}: tensor layer.weight (F32 [2, 2], offset 0, stride [2, 1]) needs 16 bytes of archive/data/1, which holds 12`);
  });

  it("a view reaching past its storage, and a missing storage entry", () => {
    const past = stateDictPickle([{ name: "v", key: "0", numel: 4, offset: 2, shape: [3] }]);
    const file = tmp.write("past.pt", torchZip("archive", past, { "0": f32Bytes([1, 2, 3, 4]) }));
    expect(() => openTorchCheckpoint(file)).toThrow("tensor v (F32 [3], offset 2, stride [1]) needs 20 bytes");
    const missing = tmp.write("missing.pt", torchZip("archive", past, {}));
    expect(() => openTorchCheckpoint(missing)).toThrow(`${missing}: tensor v refers to storage archive/data/0, which is not in the archive`);
  });

  it.each([
    ["os", "system"],
    ["builtins", "eval"],
  ])("a pickle calling %s.%s: refused by name, nothing runs", (module, name) => {
    const marker = tmp.path(`pwned-${name}`);
    const command = name === "system" ? `touch ${marker}` : `__import__('os').system('touch ${marker}')`;
    const pickle = new Pickler().proto().global(module, name).str(command).raw(0x85, 0x52).stop(); // TUPLE1 REDUCE STOP
    const file = tmp.write(`evil-${name}.pt`, torchZip("archive", pickle, {}));
    expect(() => openTorchCheckpoint(file)).toThrow(`${file} (archive/data.pkl): refusing pickle global ${module}.${name} ("${module} ${name}")`);
    expect(existsSync(marker)).toBe(false);
  });
});

describe("openTorchCheckpoint on hand-built archives", () => {
  const values = [1, 2, 3, 4, 5, 6];
  const specs: TensorSpec[] = [
    { name: "expanded", key: "0", numel: 4, shape: [3, 4], stride: [0, 1] },
    { name: "transposed", key: "1", numel: 6, shape: [3, 2], stride: [1, 3] },
    { name: "offset", key: "1", numel: 6, offset: 2, shape: [2, 2] },
    { name: "expanded-offset", key: "1", numel: 6, offset: 4, shape: [2, 1, 2], stride: [0, 99, 1] },
    { name: "scalar", key: "1", numel: 6, offset: 5, shape: [] },
    { name: "empty", key: "1", numel: 6, shape: [0, 3] },
    { name: "param", key: "2", numel: 2, shape: [2], parameter: true, storageClass: "HalfStorage" },
    { name: "ints", key: "3", numel: 2, shape: [2], storageClass: "IntStorage" },
  ];
  const storages = { "0": f32Bytes([1, 2, 3, 4]), "1": f32Bytes(values), "2": Buffer.from([0x00, 0x3c, 0x00, 0xc0]), "3": Buffer.alloc(8) };
  const expected: Record<string, number[]> = {
    expanded: [1, 2, 3, 4, 1, 2, 3, 4, 1, 2, 3, 4],
    transposed: [1, 4, 2, 5, 3, 6],
    offset: [3, 4, 5, 6],
    "expanded-offset": [5, 6, 5, 6],
    scalar: [6],
    empty: [],
    param: [1, -2],
  };

  it.each([
    ["OrderedDict, aligned, zip64", { ordered: true }, { zip64: true, align: true }],
    ["{state_dict: dict, global_step}, non-tensor entries inside", { wrapped: true, extras: { step: 3 } }, { align: true }],
    ["a plain dict, unaligned, with a comment", {}, { comment: "made by hand" }],
  ])("%s: strided views read row-major", (_, dictOptions, zipOptions) => {
    const file = tmp.write("views.pt", torchZip("some top folder", stateDictPickle(specs, dictOptions), storages, zipOptions));
    withFile(file, (f) => {
      expect([...f.tensors.keys()]).toEqual(specs.map((s) => s.name));
      for (const [name, want] of Object.entries(expected)) expect([...f.tensors.get(name)!.read()], name).toEqual(want);
      expect(f.tensors.get("param")!.dtype).toBe("F16");
      expect(() => f.tensors.get("ints")!.read()).toThrow(`${file}: ints has dtype I32`);
    });
  });

  it("close() may be called twice", () => {
    const f = openTorchCheckpoint(tmp.write("c.pt", torchZip("x", stateDictPickle(specs.slice(0, 1)), storages)));
    f.close();
    expect(() => f.close()).not.toThrow();
  });
});
