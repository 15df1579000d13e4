import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as ort from "onnxruntime-node";
import { BundleError } from "@troupe/shared/errors";
import type { Manifest } from "@troupe/shared/contracts/manifest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GraphBuilder } from "../graph/builder.ts";
import { TINY_CONFIG } from "../graph/configs/tiny.ts";
import { buildFuse } from "../graph/models/fuse.ts";
import { seededRandom } from "../graph/weights.ts";
import { type ExecutionProvider } from "../onnx/sessions.ts";
import { describeFile } from "./bundle-files.ts";
import { loadBundle, releaseBundle, type LoadedBundle } from "./load-bundle.ts";
import { ensureTinyBundle } from "./tiny-bundle.ts";

let source: string;
const scratch = mkdtempSync(join(tmpdir(), "bundle-test-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
beforeAll(async () => {
  source = await ensureTinyBundle();
});

/** A private copy of the tiny bundle to tamper with. */
function copyBundle(name: string): string {
  const dir = join(scratch, name);
  cpSync(source, dir, { recursive: true });
  return dir;
}

async function refusal(dir: string, executionProvider: ExecutionProvider = "cpu"): Promise<BundleError> {
  const error = await loadBundle(dir, { executionProvider, intraOpThreads: 1 }).then(
    async (b) => {
      await releaseBundle(b);
      return undefined;
    },
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(BundleError);
  return error as BundleError;
}

const f32 = (dims: number[], fill = 0.1) => new ort.Tensor("float32", new Float32Array(dims.reduce((a, b) => a * b, 1)).fill(fill), dims);

describe("the tiny bundle", () => {
  let bundle: LoadedBundle;
  beforeAll(async () => {
    bundle = await loadBundle(source, { executionProvider: "cpu", intraOpThreads: 1 });
  });
  afterAll(async () => bundle && releaseBundle(bundle));

  it("has a manifest whose tokens match its own merges file", () => {
    const { manifest } = bundle;
    const merges = readFileSync(bundle.mergesPath, "utf8").split("\n").filter((l) => l && !l.startsWith("#version"));
    expect(merges.length).toBeGreaterThan(100);
    expect(manifest.tokens).toEqual({ bos: 512 + merges.length, eos: 513 + merges.length, pad: 513 + merges.length, maxLength: 77, vocabSize: 514 + merges.length });
    expect(manifest).toMatchObject({ hiddenSize: 32, imageSize: 224, latentChannels: 4, vaeScaleFactor: 8, maxSubjects: 2 });
    expect(manifest.files.map((f) => f.path).sort()).toEqual([...Object.values(manifest.graphs), manifest.tokenizer.merges].sort());
  });

  it("runs every graph with the shapes of DESIGN §4", async () => {
    const { textEncoder, imageEncoder, fuse, unet, vaeDecoder } = bundle.sessions;
    const ids = new ort.Tensor("int64", new BigInt64Array(2 * 77).fill(BigInt(bundle.manifest.tokens.eos)), [2, 77]);
    expect((await textEncoder.run({ input_ids: ids })).last_hidden_state.dims).toEqual([2, 77, 32]);
    expect((await imageEncoder.run({ pixel_values: f32([2, 3, 224, 224]) })).image_embeds.dims).toEqual([2, 32]);
    expect((await fuse.run({ text_embeds: f32([1, 32]), image_embeds: f32([1, 32]) })).fused.dims).toEqual([1, 32]);
    const out = await unet.run({ sample: f32([2, 4, 8, 16]), timestep: f32([2], 500), encoder_hidden_states: f32([2, 77, 32]), cross_attention_bias: f32([2, 77, 8, 16], 0) });
    expect(out.noise_pred.dims).toEqual([2, 4, 8, 16]);
    expect(out.attention_probs.dims).toEqual([2, 77, 2, 4]);
    const image = (await vaeDecoder.run({ latent: f32([1, 4, 8, 16]) })).image;
    expect(image.dims).toEqual([1, 3, 64, 128]);
    expect((image.data as Float32Array).every(Number.isFinite)).toBe(true);
  });
});

describe("loadBundle refuses", () => {
  it("a file whose sha256 does not match, naming it", async () => {
    const dir = copyBundle("sha");
    const path = join(dir, "fuse.onnx");
    const bytes = readFileSync(path);
    bytes[bytes.length - 1] ^= 0xff;
    writeFileSync(path, bytes);
    const error = await refusal(dir);
    expect(error.message).toMatch(/^fuse\.onnx: sha256 .* does not match/);
    expect(error.details).toMatchObject({ file: "fuse.onnx" });
  });

  it("a graph with a wrong shape, naming the file and the value", async () => {
    const dir = copyBundle("shape");
    const g = new GraphBuilder("fuse", { weights: seededRandom(1) });
    buildFuse(g, { ...TINY_CONFIG, hiddenSize: 16 });
    writeFileSync(join(dir, "fuse.onnx"), g.toBytes());
    const manifest = JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8")) as Manifest;
    const entry = await describeFile(dir, "fuse.onnx");
    manifest.files = manifest.files.map((f) => (f.path === "fuse.onnx" ? entry : f));
    writeFileSync(join(dir, "manifest.json"), JSON.stringify(manifest));
    const error = await refusal(dir);
    expect(error.message).toMatch(/^fuse\.onnx: input text_embeds has shape \[S,16\], expected \[\?,32\]/);
  });

  it("a missing file and a manifest that breaks the schema", async () => {
    const dir = copyBundle("missing");
    rmSync(join(dir, "unet.onnx"));
    expect((await refusal(dir)).message).toMatch(/^unet\.onnx: listed in manifest\.json but missing/);
    writeFileSync(join(dir, "manifest.json"), JSON.stringify({ name: "x" }));
    expect((await refusal(dir)).message).toMatch(/^manifest\.json: .*version/);
  });

  it("an execution provider that cannot load, at load time", async () => {
    const error = await refusal(source, "no-such-provider" as ExecutionProvider);
    expect(error.message).toMatch(/text_encoder\.onnx: cannot create a session on the no-such-provider execution provider/);
  });
});
