import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import sharp from "sharp";
import type { GenerationSpec } from "@troupe/shared/contracts/generation";
import { ClipTokenizer } from "@troupe/shared/tokenizer";
import { ensureTinyBundle } from "../bundle/tiny-bundle.ts";
import { loadBundle, releaseBundle, type LoadedBundle } from "../bundle/load-bundle.ts";
import { FastComposerPipeline } from "./fastcomposer-pipeline.ts";

let bundle: LoadedBundle;
let pipeline: FastComposerPipeline;
const refs: Buffer[] = [];

const disc = (fill: string) =>
  sharp(Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" width="64" height="48"><rect width="100%" height="100%" fill="#777"/><circle cx="32" cy="24" r="16" fill="${fill}"/></svg>`))
    .png()
    .toBuffer();

beforeAll(async () => {
  bundle = await loadBundle(await ensureTinyBundle(), { executionProvider: "cpu", intraOpThreads: 1 });
  pipeline = new FastComposerPipeline(bundle, await ClipTokenizer.fromFile(bundle.mergesPath, { vocabSize: bundle.manifest.tokens.vocabSize }));
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
    await expect(pipeline.generate({ spec: spec(), references: [refs[0], Buffer.from("garbage")] })).rejects.toMatchObject({ code: "upload_invalid" });
    await expect(pipeline.generate({ spec: spec({ prompt: "a man img" }), references: refs.slice(0, 2) })).rejects.toMatchObject({ code: "image_token_mismatch" });
  });
});
