import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import sharp from "sharp";
import type { GenerationSpec } from "@troupe/shared/contracts/generation";
import type { Manifest } from "@troupe/shared/contracts/manifest";
import { ClipTokenizer } from "@troupe/shared/tokenizer";
import { ensureTinyBundle } from "../bundle/tiny-bundle.ts";
import { loadBundle, releaseBundle, type LoadedBundle } from "../bundle/load-bundle.ts";
import { FastComposerPipeline } from "./fastcomposer-pipeline.ts";

let bundle: LoadedBundle;
let pipeline: FastComposerPipeline;
let tokenizer: ClipTokenizer;
const refs: Buffer[] = [];

const disc = (fill: string) =>
  sharp(Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" width="64" height="48"><rect width="100%" height="100%" fill="#777"/><circle cx="32" cy="24" r="16" fill="${fill}"/></svg>`))
    .png()
    .toBuffer();

beforeAll(async () => {
  bundle = await loadBundle(await ensureTinyBundle(), { executionProvider: "cpu", intraOpThreads: 1 });
  tokenizer = await ClipTokenizer.fromFile(bundle.mergesPath, { vocabSize: bundle.manifest.tokens.vocabSize });
  pipeline = new FastComposerPipeline(bundle, tokenizer);
  refs.push(await disc("#2255dd"), await disc("#dd3322"), await disc("#22aa44"));
});
afterAll(async () => bundle && releaseBundle(bundle));

const spec = (over: Partial<GenerationSpec> = {}): GenerationSpec => ({
  prompt: "a man img and a woman img sitting in a park",
  negativePrompt: "",
  subjects: [{ uploadId: "upl_a" }, { uploadId: "upl_b" }],
  numImages: 1,
  steps: 6,
  guidanceScale: 5,
  alpha: 0.7,
  scheduler: "pndm",
  seed: 11,
  width: 128,
  height: 128,
  ...over,
});
const png = async (s: GenerationSpec, references = refs.slice(0, 2)) => (await pipeline.generate({ spec: s, references })).images[0].png;

describe("FastComposerPipeline on the tiny bundle", () => {
  it("makes PNGs of the requested size, one per image, and a heatmap per subject", async () => {
    const out = await pipeline.generate({ spec: spec({ numImages: 2, width: 192, height: 128 }), references: refs.slice(0, 2) });
    expect(out.images).toHaveLength(2);
    const meta = await sharp(out.images[1].png).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(["png", 192, 128]);
    expect(out.attentionMaps.map((m) => m.subject)).toEqual([0, 1]);
    expect((await sharp(out.attentionMaps[0].png).metadata()).width).toBe(192);
  });

  it("is deterministic: same spec and seed give byte-identical PNGs, another seed does not", async () => {
    const a = await png(spec());
    expect(a.equals(await png(spec()))).toBe(true);
    expect(a.equals(await png(spec({ seed: 12 })))).toBe(false);
  });

  it("with alpha 0 ignores the subjects' images entirely; with alpha 1 it does not", async () => {
    const other = [refs[2], refs[0]];
    expect((await png(spec({ alpha: 0 }))).equals(await png(spec({ alpha: 0 }), other))).toBe(true);
    expect((await png(spec({ alpha: 1 }))).equals(await png(spec({ alpha: 1 }), other))).toBe(false);
  });

  it.each([
    ["ddim", 2],
    ["euler", 2],
    ["dpmpp-2m", 2],
    ["pndm", 3], // 11 calls: the warm-up call is step 0
  ] as const)("%s at alpha 0.8 and 10 steps feeds the UNet the text-only embedding on the first %i calls", async (scheduler, expected) => {
    // The conditional half of encoder_hidden_states, per UNet call; alpha 0 gives the text-only one throughout.
    const conditionalHalves = async (alpha: number) => {
      const seen: Buffer[] = [];
      const unet = bundle.sessions.unet;
      const run = unet.run.bind(unet);
      const spy = vi.spyOn(unet, "run").mockImplementation((feeds, options) => {
        const data = (feeds as Record<string, { data: Float32Array }>).encoder_hidden_states.data;
        seen.push(Buffer.from(data.buffer, data.byteOffset + data.byteLength / 2, data.byteLength / 2));
        return run(feeds, options as never);
      });
      try {
        await pipeline.generate({ spec: spec({ scheduler, steps: 10, alpha }), references: refs.slice(0, 2) });
      } finally {
        spy.mockRestore();
      }
      return seen;
    };
    const textOnly = (await conditionalHalves(0))[0];
    const calls = await conditionalHalves(0.8); // (1 - 0.8) * 10 is 1.9999999999999996 in binary
    expect(calls).toHaveLength(scheduler === "pndm" ? 11 : 10);
    expect(calls.map((c) => c.equals(textOnly))).toEqual(calls.map((_, i) => i < expected));
  });

  it("with guidance scale 1 is the unguided conditional prediction: the negative prompt has no effect", async () => {
    expect((await png(spec({ guidanceScale: 1 }))).equals(await png(spec({ guidanceScale: 1, negativePrompt: "blurry dark" })))).toBe(true);
    expect((await png(spec({ guidanceScale: 5 }))).equals(await png(spec({ guidanceScale: 5, negativePrompt: "blurry dark" })))).toBe(false);
  });

  it("changes the image when subjects get boxes (the attention bias reaches the UNet)", async () => {
    const boxed = spec({ subjects: [{ uploadId: "upl_a", box: [0, 0, 0.5, 1] }, { uploadId: "upl_b", box: [0.5, 0, 1, 1] }] });
    expect((await png(boxed)).equals(await png(spec()))).toBe(false);
  });

  it.each(["pndm", "ddim", "euler", "dpmpp-2m"] as const)("runs with the %s scheduler and reports every step", async (scheduler) => {
    const steps: number[] = [];
    await pipeline.generate({ spec: spec({ scheduler }), references: refs.slice(0, 2) }, { onProgress: (p) => steps.push(p.step) });
    expect(steps[0]).toBe(0);
    expect(steps.at(-1)).toBe(6);
    expect(steps.every((s, i) => i === 0 || s >= steps[i - 1])).toBe(true);
    if (scheduler !== "pndm") expect(steps).toEqual(steps.map((_, i) => i));
  });

  it("stops between steps when its signal is aborted", async () => {
    const controller = new AbortController();
    let last = 0;
    const run = pipeline.generate({ spec: spec({ steps: 40 }), references: refs.slice(0, 2) }, {
      signal: controller.signal,
      onProgress: (p) => {
        last = p.step;
        if (p.step === 3) controller.abort();
      },
    });
    await expect(run).rejects.toMatchObject({ code: "canceled" });
    expect(last).toBe(3);
  });

  it("refuses an undecodable reference with upload_invalid and a prompt mismatch with its code", async () => {
    await expect(pipeline.generate({ spec: spec(), references: [refs[0], Buffer.from("garbage")] })).rejects.toMatchObject({ code: "upload_invalid", details: { subject: 1 } });
    // Subject 0 from a cached embedding: the bad photo is still named as subject 1.
    const [cached] = await pipeline.encodeReferences([refs[0]!]);
    await expect(pipeline.generate({ spec: spec(), references: [new Uint8Array(), Buffer.from("garbage")], imageEmbeds: [cached, undefined] })).rejects.toMatchObject({
      code: "upload_invalid",
      details: { subject: 1 },
    });
    await expect(pipeline.generate({ spec: spec({ prompt: "a man img" }), references: refs.slice(0, 2) })).rejects.toMatchObject({ code: "image_token_mismatch" });
    // a job over the bundle's memory budget (another bundle than the API's, mid-deploy) is refused, not run
    await expect(pipeline.generate({ spec: spec({ numImages: 3, width: 256, height: 256 }), references: refs.slice(0, 2) })).rejects.toMatchObject({ code: "invalid_request", details: { limit: "maxJobPixels" } });
  });
});

describe("FastComposerPipeline batching images into one UNet call", () => {
  // The same bundle under another memory budget: none runs one image at a time.
  const budgeted = (memory: Manifest["memory"]) => new FastComposerPipeline({ ...bundle, manifest: { ...bundle.manifest, memory } }, tokenizer);
  const withBudget = (maxBatchPixels: number) => budgeted({ maxBatchPixels, maxJobPixels: 1e9 });
  const batched = () => withBudget(1e9);
  const unbatched = () => budgeted(undefined);
  const boxed = (over: Partial<GenerationSpec> = {}) =>
    spec({ subjects: [{ uploadId: "upl_a", box: [0, 0, 0.5, 1] }, { uploadId: "upl_b", box: [0.5, 0, 1, 1] }], ...over });

  /** The UNet batch of every call and each image's final latents (the VAE decoder's input × its scaling factor). */
  async function observe(p: FastComposerPipeline, s: GenerationSpec) {
    const unetBatches: number[] = [];
    const latents: Float32Array[] = [];
    const { unet, vaeDecoder } = bundle.sessions;
    const runUnet = unet.run.bind(unet);
    const runVae = vaeDecoder.run.bind(vaeDecoder);
    const unetSpy = vi.spyOn(unet, "run").mockImplementation((feeds, options) => {
      unetBatches.push((feeds as Record<string, { dims: readonly number[] }>).sample.dims[0]);
      return runUnet(feeds, options as never);
    });
    const vaeSpy = vi.spyOn(vaeDecoder, "run").mockImplementation((feeds, options) => {
      latents.push((feeds as Record<string, { data: Float32Array }>).latent.data.map((v) => v * 0.18215));
      return runVae(feeds, options as never);
    });
    try {
      const out = await p.generate({ spec: s, references: refs.slice(0, 2) });
      return { unetBatches, latents, out };
    } finally {
      unetSpy.mockRestore();
      vaeSpy.mockRestore();
    }
  }
  const maxDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);
  const raw = async (png: Buffer) => new Uint8Array(await sharp(png).raw().toBuffer());
  const maxPixelDiff = (a: Uint8Array, b: Uint8Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);

  it.each(["pndm", "ddim", "euler", "dpmpp-2m"] as const)("%s: image n of one batch-2N call per step matches the per-image loop (latents within 1e-4)", async (scheduler) => {
    const s = boxed({ scheduler, numImages: 3, steps: 5, alpha: 0.6, guidanceScale: 7 });
    const calls = scheduler === "pndm" ? 6 : 5;
    const looped = await observe(unbatched(), s);
    const together = await observe(batched(), s);
    expect(looped.unetBatches).toEqual(Array(3 * calls).fill(2));
    expect(together.unetBatches).toEqual(Array(calls).fill(6));
    expect(together.latents).toHaveLength(3);
    for (let n = 0; n < 3; n++) expect(maxDiff(together.latents[n], looped.latents[n])).toBeLessThan(1e-4);
    // each image its own noise slice: no two images alike
    expect(maxDiff(together.latents[0], together.latents[1])).toBeGreaterThan(0.1);
    // the attention maps come from the first image's conditional sample in both layouts
    for (const subject of [0, 1]) {
      const [a, b] = [await raw(together.out.attentionMaps[subject].png), await raw(looped.out.attentionMaps[subject].png)];
      expect(maxPixelDiff(a, b)).toBeLessThanOrEqual(2);
    }
  });

  it("is deterministic when batched: the same request gives byte-identical PNGs", async () => {
    const s = boxed({ numImages: 2, seed: 5 });
    const [a, b] = [await batched().generate({ spec: s, references: refs.slice(0, 2) }), await batched().generate({ spec: s, references: refs.slice(0, 2) })];
    expect(a.images.map((i, n) => i.png.equals(b.images[n].png))).toEqual([true, true]);
    expect(a.attentionMaps.map((m, n) => m.png.equals(b.attentionMaps[n].png))).toEqual([true, true]);
  });

  it("batches exactly when 2·N·width·height fits the manifest's maxBatchPixels", async () => {
    const s = spec({ numImages: 2, steps: 2, scheduler: "ddim", width: 192, height: 128 });
    const fits = 2 * 2 * 192 * 128;
    expect((await observe(withBudget(fits), s)).unetBatches).toEqual([4, 4]);
    expect((await observe(withBudget(fits - 1), s)).unetBatches).toEqual([2, 2, 2, 2]);
  });

  it("at guidance 1 runs no negative half (batch N, or 1 per image) and equals the guided path's conditional prediction (within 1e-5)", async () => {
    const s = boxed({ numImages: 3, steps: 5, guidanceScale: 1 });
    // The old path: [negative, conditional] per image and CFG; at 1 + 1e-9 its result is the conditional
    // prediction to within 1e-9 · |cond − neg|, below float32 rounding.
    const reference = await observe(unbatched(), { ...s, guidanceScale: 1 + 1e-9 });
    expect(reference.unetBatches).toEqual(Array(18).fill(2));
    const looped = await observe(unbatched(), s);
    const together = await observe(batched(), s);
    expect(looped.unetBatches).toEqual(Array(18).fill(1));
    expect(together.unetBatches).toEqual(Array(6).fill(3));
    for (let n = 0; n < 3; n++) {
      expect(maxDiff(looped.latents[n], reference.latents[n])).toBeLessThan(1e-5);
      expect(maxDiff(together.latents[n], reference.latents[n])).toBeLessThan(1e-5);
    }
    // and its attention maps are the conditional sample's, as the guided path's are
    for (const subject of [0, 1]) {
      const [a, b] = [await raw(together.out.attentionMaps[subject].png), await raw(reference.out.attentionMaps[subject].png)];
      expect(maxPixelDiff(a, b)).toBeLessThanOrEqual(2);
    }
    // half the batch still fits where 2·N would not
    expect((await observe(withBudget(3 * 128 * 128), { ...s, steps: 1, scheduler: "ddim" })).unetBatches).toEqual([3]);
  });

  it.each(["pndm", "dpmpp-2m"] as const)("%s: reports progress N steps at a time, up to steps × numImages", async (scheduler) => {
    const steps: number[] = [];
    await batched().generate({ spec: spec({ scheduler, numImages: 3, steps: 4 }), references: refs.slice(0, 2) }, { onProgress: (p) => steps.push(p.step) });
    // PNDM's warm-up call counts as step 0
    expect(steps).toEqual(scheduler === "pndm" ? [0, 0, 3, 6, 9, 12] : [0, 3, 6, 9, 12]);
  });

  it("stops before the next batched step when its signal is aborted", async () => {
    const controller = new AbortController();
    let last = 0;
    let calls = 0;
    const { unet } = bundle.sessions;
    const run = unet.run.bind(unet);
    const spy = vi.spyOn(unet, "run").mockImplementation((feeds, options) => {
      calls++;
      return run(feeds, options as never);
    });
    try {
      const job = batched().generate({ spec: spec({ scheduler: "ddim", numImages: 2, steps: 40 }), references: refs.slice(0, 2) }, {
        signal: controller.signal,
        onProgress: (p) => {
          last = p.step;
          if (p.step === 6) controller.abort();
        },
      });
      await expect(job).rejects.toMatchObject({ code: "canceled" });
    } finally {
      spy.mockRestore();
    }
    expect([last, calls]).toEqual([6, 3]);
  });
});
