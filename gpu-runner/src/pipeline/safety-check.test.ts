import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { GenerationSpec } from "@troupe/shared/contracts/generation";
import { ClipTokenizer } from "@troupe/shared/tokenizer";
import { loadBundle, releaseBundle, type LoadedBundle } from "../bundle/load-bundle.ts";
import { ensureFlagAllTinyBundle, ensureNoSafetyTinyBundle, ensureTinyBundle } from "../bundle/tiny-bundle.ts";
import { FastComposerPipeline } from "./fastcomposer-pipeline.ts";

/** The tiny bundle (random checker: flags nothing), its flag-everything twin, and one without a checker. */
const bundles: Record<"clean" | "flagAll" | "none", LoadedBundle> = {} as never;
const pipelines: Record<keyof typeof bundles, FastComposerPipeline> = {} as never;
let reference: Buffer;

beforeAll(async () => {
  const dirs = { clean: await ensureTinyBundle(), flagAll: await ensureFlagAllTinyBundle(), none: await ensureNoSafetyTinyBundle() };
  for (const [name, dir] of Object.entries(dirs) as [keyof typeof bundles, string][]) {
    bundles[name] = await loadBundle(dir, { executionProvider: "cpu", intraOpThreads: 1 });
    const tokenizer = await ClipTokenizer.fromFile(bundles[name].mergesPath, { vocabSize: bundles[name].manifest.tokens.vocabSize });
    pipelines[name] = new FastComposerPipeline(bundles[name], tokenizer);
  }
  reference = await sharp({ create: { width: 48, height: 48, channels: 3, background: "#2255dd" } }).png().toBuffer();
}, 120_000);
afterAll(async () => Promise.all(Object.values(bundles).map((b) => releaseBundle(b))));

const spec: GenerationSpec = {
  prompt: "a man img in a park",
  negativePrompt: "",
  subjects: [{ uploadId: "upl_a" }],
  numImages: 2,
  steps: 2,
  guidanceScale: 5,
  alpha: 0.7,
  scheduler: "ddim",
  seed: 5,
  width: 64,
  height: 64,
};

describe("the safety check in the pipeline", () => {
  it("marks every image under block and flag, and checks nothing under off", async () => {
    const run = (name: keyof typeof bundles, safetyPolicy: "block" | "flag" | "off") => pipelines[name].generate({ spec, references: [reference] }, { safetyPolicy });
    expect((await run("clean", "block")).images.map((i) => i.safety)).toEqual([{ flagged: false }, { flagged: false }]);
    expect((await run("flagAll", "flag")).images.map((i) => i.safety)).toEqual([{ flagged: true }, { flagged: true }]);
    const off = await run("flagAll", "off");
    expect(off.images.map((i) => i.safety)).toEqual([undefined, undefined]);
  });

  it("keeps a withheld first image out of the attention heatmaps under block, not under flag", async () => {
    const blocked = await pipelines.flagAll.generate({ spec, references: [reference] }, { safetyPolicy: "block" });
    const flagged = await pipelines.flagAll.generate({ spec, references: [reference] }, { safetyPolicy: "flag" });
    // same seed, same pixels: only the heatmap's background differs (black under block)
    expect(blocked.images[0].png.equals(flagged.images[0].png)).toBe(true);
    expect(blocked.attentionMaps[0].png.equals(flagged.attentionMaps[0].png)).toBe(false);
    const mean = async (png: Buffer) => (await sharp(png).stats()).channels.reduce((a, c) => a + c.mean, 0);
    expect(await mean(blocked.attentionMaps[0].png)).toBeLessThan(await mean(flagged.attentionMaps[0].png));
  });

  it("refuses block and flag on a bundle without a checker, before any work; off runs", async () => {
    expect(bundles.none.manifest.graphs.safetyChecker).toBeUndefined();
    for (const safetyPolicy of ["block", "flag"] as const) {
      let steps = 0;
      await expect(pipelines.none.generate({ spec, references: [reference] }, { safetyPolicy, onProgress: () => steps++ })).rejects.toMatchObject({ code: "safety_unavailable" });
      expect(steps).toBe(0);
    }
    expect((await pipelines.none.generate({ spec, references: [reference] }, { safetyPolicy: "off" })).images).toHaveLength(2);
  });
});
