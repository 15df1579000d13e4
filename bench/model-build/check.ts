import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openSafetensors } from "../../gpu-runner/src/checkpoints/safetensors-file.ts";
import { floatsFromBytes } from "../../gpu-runner/src/checkpoints/tensor-file.ts";
import { keysListing, PARITY } from "../../gpu-runner/src/checkpoints/test-support.ts";
import { openTorchCheckpoint } from "../../gpu-runner/src/checkpoints/torch-checkpoint.ts";
import { SMALL } from "./configs.ts";
import { byteSize, componentTensors, fastComposerKeys, isScheduleBuffer, ldmKeys, type TensorSpec } from "./tensor-list.ts";
import { Values, writeSafetensors, writeTorchZip } from "./writers.ts";

/**
 * Self-checks run before anything large is written: (1) the writers round-trip through the project's own
 * readers, values included; (2) at the fixtures' sizes, the generated key lists (names, dtypes, shapes) are
 * exactly those of the parity fixtures' real files, so the full-size files have the real layouts.
 */


/** A fixture's *-keys.txt as name → "dtype [shape]". */
const keyFile = (path: string): Map<string, string> => new Map(keysListing(path).map(([name, dtype, shape]) => [name, `${dtype} ${JSON.stringify(shape)}`]));

function sameKeys(what: string, ours: TensorSpec[], theirs: Map<string, string>): void {
  const mine = new Map(ours.map((t) => [t.name, `${t.dtype} ${JSON.stringify(t.shape)}`]));
  const problems: string[] = [];
  for (const [name, desc] of theirs) if (mine.get(name) !== desc) problems.push(`${name}: fixture ${desc}, ours ${mine.get(name) ?? "missing"}`);
  for (const name of mine.keys()) if (!theirs.has(name)) problems.push(`${name}: not in the fixture`);
  if (problems.length) throw new Error(`${what}: ${problems.length} difference(s) from the fixture: ${problems.slice(0, 8).join("; ")}`);
}

/** The generated layouts at the fixtures' sizes equal the fixtures' key lists. Skipped (returns false) without the fixtures. */
export function checkAgainstFixtures(): boolean {
  const fc = join(PARITY, "fastcomposer-checkpoint", "checkpoint-keys.txt");
  const single = join(PARITY, "sd15-single-file", "model-keys.txt");
  if (!existsSync(fc) || !existsSync(single)) return false;
  const components = componentTensors(SMALL, "F16");
  sameKeys("FastComposer pytorch_model.bin", fastComposerKeys(components), keyFile(fc));
  // the fixture was made by the conversion script alone: no schedule buffers
  sameKeys("SD 1.5 single file", ldmKeys(components, SMALL, "F16").filter((t) => !isScheduleBuffer(t.name)), keyFile(single));
  const folder = join(PARITY, "fastcomposer-checkpoint", "stable-diffusion-v1-5");
  for (const [sub, file, component] of [
    ["unet", "diffusion_pytorch_model.fp16.safetensors", "unet"],
    ["vae", "diffusion_pytorch_model.fp16.safetensors", "vae"],
    ["text_encoder", "model.fp16.safetensors", "textEncoder"],
  ] as const) {
    const f = openSafetensors(join(folder, sub, file));
    try {
      const theirs = new Map([...f.tensors.values()].map((t) => [t.key, `${t.dtype} ${JSON.stringify(t.shape)}`]));
      sameKeys(`SD 1.5 folder ${sub}/`, components.get(component)!, theirs);
    } finally {
      f.close();
    }
  }
  return true;
}

/** Every dtype, an odd element count, position_ids: written by both writers, read back by the project's readers. */
export function checkRoundTrip(): void {
  const tensors: TensorSpec[] = [
    { name: "a.weight", dtype: "F32", shape: [3, 5, 2, 2] },
    { name: "b.bias", dtype: "F16", shape: [7] },
    { name: "c.position_ids", dtype: "I64", shape: [1, 77], values: "arange" },
    { name: "d.weight", dtype: "F16", shape: [33, 65] },
    { name: "e.position_ids", dtype: "F16", shape: [1, 77], values: "arange" },
    { name: "f.decay", dtype: "F32", shape: [], values: "arange" },
    { name: "g.num_updates", dtype: "I32", shape: [], values: "arange" },
  ];
  const expected = (seed: number) => {
    const values = new Values(seed);
    return tensors.map((t) => Buffer.concat([...values.bytes(t)].map((c) => Buffer.from(c))));
  };
  const dir = mkdtempSync(join(tmpdir(), "bench-model-build-check-"));
  try {
    const files = [
      { file: openSafetensors, path: join(dir, "t.safetensors"), write: (p: string) => writeSafetensors(p, tensors, { metadata: { format: "pt" }, seed: 5 }), seed: 5 },
      { file: openTorchCheckpoint, path: join(dir, "t.bin"), write: (p: string) => writeTorchZip(p, "t", tensors, { ordered: true, seed: 6 }), seed: 6 },
      { file: openTorchCheckpoint, path: join(dir, "t.ckpt"), write: (p: string) => writeTorchZip(p, "model", tensors, { wrapped: true, seed: 7 }), seed: 7 },
    ];
    for (const { file, path, write, seed } of files) {
      write(path);
      const bytes = expected(seed);
      const opened = file(path);
      try {
        if (opened.tensors.size !== tensors.length) throw new Error(`${path}: ${opened.tensors.size} tensors read back, wrote ${tensors.length}`);
        tensors.forEach((t, i) => {
          const got = opened.tensors.get(t.name);
          if (!got || got.dtype !== t.dtype || got.shape.join() !== t.shape.join()) throw new Error(`${path}: ${t.name} read back as ${got?.dtype} [${got?.shape}]`);
          if (bytes[i].length !== byteSize(t)) throw new Error(`${t.name}: ${bytes[i].length} bytes generated`);
          if (t.dtype === "I64" || t.dtype === "I32") return; // not a float: read() refuses it by design
          const want = floatsFromBytes(bytes[i], t.dtype, t.name);
          const values = got.read();
          const bad = values.findIndex((v, k) => v !== want[k] || !Number.isFinite(v) || (t.values !== "arange" && Math.abs(v) >= 1));
          if (bad >= 0 || values.length !== want.length) throw new Error(`${path}: ${t.name}[${bad}] = ${values[bad]}, wrote ${want[bad]}`);
          if (t.values === "arange" && values.some((v, k) => v !== k % (t.shape[t.shape.length - 1] ?? 1))) throw new Error(`${path}: ${t.name} is not 0, 1, …`);
        });
      } finally {
        opened.close();
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
