import { copyFile, mkdir, rm, stat, writeFile } from "node:fs/promises";
import { basename, join } from "node:path";
import { SD15_SCHEDULER_CONFIG, type Manifest, type SchedulerConfig } from "@troupe/shared/contracts/manifest";
import { GraphBuilder, type WeightPrecision } from "../graph/builder.ts";
import type { ModelConfig } from "../graph/configs/model-config.ts";
import { buildFuse } from "../graph/models/fuse.ts";
import { buildImageEncoder } from "../graph/models/image-encoder.ts";
import { buildTextEncoder } from "../graph/models/text-encoder.ts";
import { buildUNet } from "../graph/models/unet.ts";
import { buildVaeDecoder } from "../graph/models/vae-decoder.ts";
import type { WeightSource } from "../graph/weights.ts";
import { describeFile } from "./bundle-files.ts";
import { GRAPH_FILES, type GraphKey } from "./graph-spec.ts";

/** Bumped whenever a graph's structure changes, so stale generated bundles are rebuilt. */
export const GRAPH_REVISION = "3";

export interface WriteBundleOptions {
  /** The operator's CLIP merges file, copied in (required when the config does not train its own). */
  merges?: string;
  /** @default `${GRAPH_REVISION}` */
  version?: string;
  /** How weights are stored (manifest.precision). @default "fp32" */
  precision?: WeightPrecision;
  /** @default SD 1.5's */
  scheduler?: SchedulerConfig;
  /** @default config.name */
  name?: string;
}

/** One weight source for every graph, or one per graph (real checkpoints: each component its own). */
export type BundleWeights = WeightSource | Record<GraphKey, WeightSource>;

const isPerGraph = (w: BundleWeights): w is Record<GraphKey, WeightSource> => !("tensor" in w);

const BUILDERS: Record<GraphKey, (g: GraphBuilder, config: ModelConfig, vocabSize: number) => void> = {
  textEncoder: buildTextEncoder,
  imageEncoder: buildImageEncoder,
  fuse: buildFuse,
  unet: (g, config) => buildUNet(g, config),
  vaeDecoder: buildVaeDecoder,
};

/** Writes the merges file; returns its bundle path and the vocabulary size it implies. */
async function writeMerges(config: ModelConfig, outDir: string, options: WriteBundleOptions): Promise<{ path: string; vocabSize: number }> {
  if (config.tokenizer.kind === "trained") {
    // loaded only here: a bundle of real CLIP merges never needs the trainer
    const { tinyMergesText } = await import("./tiny-merges.ts");
    const { text, merges } = tinyMergesText(config.tokenizer.numMerges);
    await writeFile(join(outDir, "merges.txt"), text);
    return { path: "merges.txt", vocabSize: 512 + merges + 2 }; // byte symbols (with and without </w>), merges, BOS/EOS
  }
  if (!options.merges) throw new Error(`config ${config.name} needs the operator's CLIP merges file (--merges)`);
  const path = basename(options.merges);
  await copyFile(options.merges, join(outDir, path));
  return { path, vocabSize: config.tokenizer.vocabSize };
}

/** One graph to `<file>` (+ `<file>.data` when its large tensors go external); returns the files written. */
async function writeGraph(key: GraphKey, config: ModelConfig, outDir: string, weights: WeightSource, vocabSize: number, precision: WeightPrecision): Promise<string[]> {
  const file = GRAPH_FILES[key];
  const dataFile = `${file}.data`;
  await rm(join(outDir, dataFile), { force: true });
  const g = new GraphBuilder(key, { weights, externalDataPath: join(outDir, dataFile), precision });
  BUILDERS[key](g, config, vocabSize);
  await writeFile(join(outDir, file), g.toBytes());
  const hasData = await stat(join(outDir, dataFile)).then(
    () => true,
    () => false,
  );
  return hasData ? [file, dataFile] : [file];
}

/**
 * Writes a model bundle (DESIGN §4) into `outDir`: the five graphs, the merges file and a
 * manifest.json listing every file with its sha256. Graphs are built one at a time so peak memory
 * stays at one graph's inline tensors; large tensors stream to the .data files.
 */
export async function writeBundle(config: ModelConfig, outDir: string, weights: BundleWeights, options: WriteBundleOptions = {}): Promise<Manifest> {
  await mkdir(outDir, { recursive: true });
  const merges = await writeMerges(config, outDir, options);
  const written: string[] = [merges.path];
  const precision = options.precision ?? "fp32";
  for (const key of Object.keys(GRAPH_FILES) as GraphKey[]) {
    const source = isPerGraph(weights) ? weights[key] : weights;
    written.push(...(await writeGraph(key, config, outDir, source, merges.vocabSize, precision)));
  }

  const manifest: Manifest = {
    name: options.name ?? config.name,
    version: options.version ?? GRAPH_REVISION,
    hiddenSize: config.hiddenSize,
    sizes: config.sizes,
    latentChannels: config.vae.latentChannels,
    vaeScaleFactor: 2 ** (config.vae.blockOutChannels.length - 1),
    imageSize: config.vision.imageSize,
    // BOS and EOS are the last two ids, as in CLIP (49406, 49407 of 49408); padding repeats EOS
    tokens: {
      bos: merges.vocabSize - 2,
      eos: merges.vocabSize - 1,
      pad: merges.vocabSize - 1,
      maxLength: config.text.maxLength,
      vocabSize: merges.vocabSize,
    },
    maxSubjects: 2,
    scheduler: options.scheduler ?? SD15_SCHEDULER_CONFIG,
    precision,
    tokenizer: { merges: merges.path },
    graphs: GRAPH_FILES,
    files: await Promise.all(written.map((path) => describeFile(outDir, path))),
  };
  await writeFile(join(outDir, "manifest.json"), `${JSON.stringify(manifest, null, 2)}\n`);
  return manifest;
}
