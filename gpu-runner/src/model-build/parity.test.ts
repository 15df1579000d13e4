import { copyFileSync, cpSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import * as ort from "onnxruntime-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openSafetensors } from "../checkpoints/safetensors-file.ts";
import { safetensorsBytes } from "../checkpoints/test-support.ts";
import { GraphBuilder } from "../graph/builder.ts";
import { buildFuse } from "../graph/models/fuse.ts";
import { sessionOf } from "../graph/test-support.ts";
import { buildModel, type BuildOptions, type BuildReport } from "./build-model.ts";
import { ComponentWeights } from "./component-weights.ts";
import { fastComposerOffer } from "./sources.ts";
import { goldenErrors, PARITY, readGoldens, relativeError, writeClipTokenizer } from "./test-support.ts";

/**
 * The one command's bundles against the reference outputs in ../shared/data/parity (random, seeded
 * weights in the real file layouts; goldens from diffusers / transformers / FastComposer). Tolerance:
 * rel = max|ours − ref| / max|ref| ≤ 1e-4 per output, float32, as the fixtures' READMEs define it.
 */
const TOLERANCE = 1e-4;
const FC = join(PARITY, "fastcomposer-checkpoint");
const SF = join(PARITY, "sd15-single-file");
const CHECKPOINT = join(FC, "fastcomposer", "pytorch_model.bin");
const SD15_FOLDER = join(FC, "stable-diffusion-v1-5");
const GRAPHS = { text: "text_encoder.onnx", image: "image_encoder.onnx", fuse: "fuse.onnx", unet: "unet.onnx", vae: "vae_decoder.onnx" };

const work = mkdtempSync(join(tmpdir(), "parity-"));
// the fixtures ship no tokenizer: a CLIP one of their vocabulary (1000), beside the CLIP config
const clip = writeClipTokenizer(join(work, "clip"), 1000);
copyFileSync(join(FC, "clip-vit-large-patch14", "config.json"), join(clip, "config.json"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

let counter = 0;
const build = (options: Omit<BuildOptions, "out" | "clip">): Promise<BuildReport> => buildModel({ clip, out: join(work, `bundle-${++counter}`), ...options });

async function expectGoldens(bundle: string, graph: string, goldens: string): Promise<Record<string, number>> {
  const errors = await goldenErrors(join(bundle, graph), goldens);
  expect(Object.keys(errors).length).toBeGreaterThan(0);
  for (const [name, rel] of Object.entries(errors)) expect(rel, `${graph} ${name} vs ${goldens}`).toBeLessThanOrEqual(TOLERANCE);
  return errors;
}

/** FastComposer's conditioning: the text encoder, then the fuse MLP at each image token, in order. */
async function conditioning(bundle: string): Promise<number> {
  const g = readGoldens(join(FC, "io", "conditioning.safetensors"));
  const text = await ort.InferenceSession.create(join(bundle, GRAPHS.text));
  const fuse = await ort.InferenceSession.create(join(bundle, GRAPHS.fuse));
  const hidden = (await text.run({ input_ids: g["in.input_ids"] })).last_hidden_state.data as Float32Array;
  const [B, L] = g["in.input_ids"].dims;
  const D = hidden.length / (B * L);
  const mask = g["in.image_token_mask"].data as Uint8Array;
  const objects = g["in.object_embeds"].data as Float32Array;
  const maxObjects = g["in.object_embeds"].dims[1];
  const counts = g["in.num_objects"].data as BigInt64Array;
  const result = hidden.slice();
  for (let b = 0; b < B; b++) {
    const positions = [...Array(L).keys()].filter((t) => mask[b * L + t]).slice(0, Number(counts[b]));
    for (const [k, t] of positions.entries()) {
      const row = (a: Float32Array, at: number) => new ort.Tensor("float32", a.slice(at * D, (at + 1) * D), [1, D]);
      const fused = (await fuse.run({ text_embeds: row(hidden, b * L + t), image_embeds: row(objects, b * maxObjects + k) })).fused.data as Float32Array;
      result.set(fused, (b * L + t) * D);
    }
  }
  await Promise.all([text.release(), fuse.release()]);
  return relativeError(result, g["out.encoder_hidden_states"].data as Float32Array);
}

describe("model:build from FastComposer's checkpoint + an SD 1.5 diffusers folder", () => {
  let report: BuildReport;
  beforeAll(async () => {
    report = await build({ fastcomposer: CHECKPOINT, sd15: SD15_FOLDER });
  });

  it("takes every graph from the checkpoint and reports where each tensor came from", () => {
    for (const c of report.components) expect(c.from, c.component).toEqual([{ file: CHECKPOINT, count: c.tensors }]);
    const unet = report.components.find((c) => c.component === "unet")!;
    expect(unet.tensors).toBe(682);
    expect(unet.ignored).toEqual([{ file: join(SD15_FOLDER, "unet", "diffusion_pytorch_model.fp16.safetensors"), count: 682, reason: "superseded by the FastComposer checkpoint's unet" }]);
    expect(report.config.unet).toMatchObject({ blockOutChannels: [32, 32, 32, 32], heads: 8, layersPerBlock: 2 });
    expect(report.config.vision).toMatchObject({ dim: 48, heads: 3, patchSize: 14, projectionDim: 64 });
    expect(report.manifest.tokens).toMatchObject({ bos: 998, eos: 999, pad: 999, vocabSize: 1000 });
  });

  it("matches every golden: text, image, fuse, conditioning, UNet (zero and box bias), VAE", async () => {
    const io = (f: string) => join(FC, "io", f);
    await expectGoldens(report.out, GRAPHS.text, io("text_encoder.safetensors"));
    await expectGoldens(report.out, GRAPHS.image, io("image_encoder.safetensors"));
    await expectGoldens(report.out, GRAPHS.fuse, io("fuse.safetensors"));
    expect(await conditioning(report.out)).toBeLessThanOrEqual(TOLERANCE);
    await expectGoldens(report.out, GRAPHS.unet, io("unet_zero_bias.safetensors"));
    await expectGoldens(report.out, GRAPHS.unet, io("unet_box_bias.safetensors"));
    await expectGoldens(report.out, GRAPHS.vae, io("vae_square.safetensors"));
    await expectGoldens(report.out, GRAPHS.vae, io("vae_nonsquare.safetensors"));
  });

  it("would fail the checkpoint's UNet goldens with the stock UNet, which matches the stock goldens instead", async () => {
    const stock = await build({ fastcomposer: CHECKPOINT, sd15: SD15_FOLDER, fromSd15: ["unet"] });
    const errors = await goldenErrors(join(stock.out, GRAPHS.unet), join(FC, "io", "unet_zero_bias.safetensors"));
    expect(errors.noise_pred).toBeGreaterThan(0.1);
    await expectGoldens(stock.out, GRAPHS.unet, join(SF, "io", "unet_zero_bias.safetensors"));
  });

  it("stores fp16 weights in about half the bytes and still matches on the CPU provider", async () => {
    const half = await build({ fastcomposer: CHECKPOINT, sd15: SD15_FOLDER, precision: "fp16" });
    expect(half.manifest.precision).toBe("fp16");
    const size = (r: BuildReport, f: string) => statSync(join(r.out, f)).size;
    expect(size(half, GRAPHS.unet) / size(report, GRAPHS.unet)).toBeLessThan(0.6);
    // the fixture's values are float16-exact, so storing them as fp16 loses nothing
    await expectGoldens(half.out, GRAPHS.unet, join(FC, "io", "unet_box_bias.safetensors"));
    await expectGoldens(half.out, GRAPHS.vae, join(FC, "io", "vae_square.safetensors"));
    await expectGoldens(half.out, GRAPHS.text, join(FC, "io", "text_encoder.safetensors"));
  });

  it("replaces an older bundle at --out, leaving no partial or old folder beside it", async () => {
    const again = await buildModel({ clip, out: report.out, fastcomposer: CHECKPOINT, sd15: SD15_FOLDER, precision: "fp16" });
    expect(again.manifest.precision).toBe("fp16");
    expect(readdirSync(work).filter((n) => n.startsWith(basename(report.out)))).toEqual([basename(report.out)]);
    await expectGoldens(again.out, GRAPHS.fuse, join(FC, "io", "fuse.safetensors"));
  });

  it("reads bfloat16 and float32 storages (the postfuse module saved each way)", async () => {
    for (const [file, goldens] of [["postfuse_module.bfloat16.bin", "fuse_bfloat16.safetensors"], ["postfuse_module.float32.bin", "fuse.safetensors"]]) {
      const offer = fastComposerOffer(join(FC, "dtype-variants", file));
      const weights = new ComponentWeights("fuse");
      for (const c of offer.candidates.get("fuse")!) weights.add(c);
      const g = new GraphBuilder("fuse", { weights });
      buildFuse(g, report.config);
      offer.close();
      const session = await sessionOf(g);
      const io = readGoldens(join(FC, "io", goldens));
      const out = await session.run({ text_embeds: io["in.text_embeds"], image_embeds: io["in.image_embeds"] });
      expect(relativeError(out.fused.data as Float32Array, io["out.fused"].data as Float32Array), file).toBeLessThanOrEqual(TOLERANCE);
    }
  });
});

describe("model:build from a diffusers folder with a sharded float32 UNet", () => {
  it("reads the shards the index names, prefers them over the fp16 variant, and matches the stock goldens", async () => {
    const folder = join(work, "sharded");
    cpSync(SD15_FOLDER, folder, { recursive: true });
    const stock = openSafetensors(join(SD15_FOLDER, "unet", "diffusion_pytorch_model.fp16.safetensors"));
    const names = [...stock.tensors.keys()];
    const shards = [names.slice(0, 300), names.slice(300)].map((part, i) => ({ file: `diffusion_pytorch_model-0000${i + 1}-of-00002.safetensors`, part }));
    for (const { file, part } of shards) {
      const tensors = Object.fromEntries(part.map((n) => { const t = stock.tensors.get(n)!; return [n, { dtype: "F32", shape: [...t.shape], bytes: new Uint8Array(t.read().buffer) }]; }));
      writeFileSync(join(folder, "unet", file), safetensorsBytes(tensors));
    }
    stock.close();
    const weightMap = Object.fromEntries(shards.flatMap(({ file, part }) => part.map((n) => [n, file])));
    writeFileSync(join(folder, "unet", "diffusion_pytorch_model.safetensors.index.json"), JSON.stringify({ metadata: {}, weight_map: weightMap }));

    const r = await build({ fastcomposer: CHECKPOINT, sd15: folder, fromSd15: ["unet"] });
    const unet = r.components.find((c) => c.component === "unet")!;
    expect(unet.from).toEqual(shards.map(({ file, part }) => ({ file: join(folder, "unet", file), count: part.length })));
    expect(r.unused).toContainEqual({ file: join(folder, "unet", "diffusion_pytorch_model.fp16.safetensors"), count: 1, reason: expect.stringMatching(/index\.json is preferred/) });
    await expectGoldens(r.out, GRAPHS.unet, join(SF, "io", "unet_box_bias.safetensors"));
  });
});

describe("model:build from an SD 1.5 single file (CompVis layout)", () => {
  const stockFrom = (sd15: string) => build({ fastcomposer: CHECKPOINT, sd15, sd15Config: join(SF, "v1-inference.yaml"), fromSd15: ["unet", "vae", "textEncoder"] });

  for (const file of ["model.safetensors", "model.ckpt"]) {
    it(`${file}: the stock UNet, VAE and text encoder match their goldens`, async () => {
      const r = await stockFrom(join(SF, file));
      for (const c of ["unet", "vae", "textEncoder"]) expect(r.components.find((x) => x.component === c)!.from).toEqual([{ file: join(SF, file), count: expect.any(Number) }]);
      expect(r.origins.unet).toBe(join(SF, "v1-inference.yaml"));
      const io = (f: string) => join(SF, "io", f);
      await expectGoldens(r.out, GRAPHS.text, io("text_encoder.safetensors"));
      await expectGoldens(r.out, GRAPHS.unet, io("unet_zero_bias.safetensors"));
      await expectGoldens(r.out, GRAPHS.unet, io("unet_box_bias.safetensors"));
      await expectGoldens(r.out, GRAPHS.vae, io("vae_square.safetensors"));
      await expectGoldens(r.out, GRAPHS.vae, io("vae_nonsquare.safetensors"));
    });
  }

  it("with the FastComposer checkpoint the UNet is the checkpoint's, and a VAE with the old attention names loads", async () => {
    const r = await build({ fastcomposer: CHECKPOINT, sd15: join(SF, "model.safetensors"), sd15Config: join(SF, "v1-inference.yaml"), vae: join(SF, "vae-old-attention-names.safetensors") });
    expect(r.components.find((c) => c.component === "vae")!.from).toEqual([{ file: join(SF, "vae-old-attention-names.safetensors"), count: 136 }]);
    await expectGoldens(r.out, GRAPHS.unet, join(FC, "io", "unet_box_bias.safetensors"));
    await expectGoldens(r.out, GRAPHS.vae, join(SF, "io", "vae_nonsquare.safetensors"));
  });
});
