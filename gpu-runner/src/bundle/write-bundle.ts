import { copyFile, mkdir, rm, stat, writeFile } from "node:fs/promises";
import { basename, join } from "node:path";
import onnxProto from "onnx-proto";
import { SD15_SCHEDULER_CONFIG, type Manifest, type SchedulerConfig } from "@troupe/shared/contracts/manifest";
import { GraphBuilder, type WeightPrecision } from "../graph/builder.ts";
import type { ModelConfig, SafetyCheckerConfig } from "../graph/configs/model-config.ts";
import { buildFuse } from "../graph/models/fuse.ts";
import { buildImageEncoder } from "../graph/models/image-encoder.ts";
import { buildSafetyChecker } from "../graph/models/safety-checker.ts";
import { buildTextEncoder } from "../graph/models/text-encoder.ts";
import { buildUNet } from "../graph/models/unet.ts";
import { buildVaeDecoder } from "../graph/models/vae-decoder.ts";
import { toFloat16Compute } from "../graph/fp16-compute.ts";
import type { WeightSource } from "../graph/weights.ts";
import { describeFile } from "./bundle-files.ts";
import { GPU_GRAPH_FILES, GRAPH_FILES, SAFETY_CHECKER_FILE, type GraphKey } from "./graph-spec.ts";

/** Bumped whenever a graph's structure changes, so stale generated bundles are rebuilt. */
export const GRAPH_REVISION = "5"; // 4: fused attention (com.microsoft.MultiHeadAttention), manifest.memory; 5: safety checker

export interface WriteBundleOptions {
  /** The operator's CLIP merges file, copied in (required when the config does not train its own). */
  merges?: string;
  /** @default `${GRAPH_REVISION}` */
  version?: string;
  /** How weights are stored (manifest.precision). @default "fp32" */
  precision?: WeightPrecision;
  /** @default SD 1.5's */
  scheduler?: SchedulerConfig;
}

/** One weight source for every graph, or one per graph (real checkpoints: each component its own). */
export type BundleWeights = WeightSource | (Record<GraphKey, WeightSource> & { safetyChecker?: WeightSource });

const isPerGraph = (w: BundleWeights): w is Record<GraphKey, WeightSource> & { safetyChecker?: WeightSource } => !("tensor" in w);

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

/**
 * fp16 bundles: weights over 64 KiB go to the `.data` file that the graph's two files share, so only
 * biases and norms are inline, once in each.
 */
const FP16_EXTERNAL_THRESHOLD = 64 << 10;

/**
 * One graph to `<file>` (+ `<file>.data` when its large tensors go external); returns the files written.
 * fp16 also writes the float16-compute form (`GPU_GRAPH_FILES`, the GPU providers' graph) over the same
 * `.data` file; `<file>` computes in float32 (fp16 weights cast at load) for the CPU provider.
 */
async function writeGraph(key: GraphKey, config: ModelConfig, outDir: string, weights: WeightSource, vocabSize: number, precision: WeightPrecision): Promise<string[]> {
  const file = GRAPH_FILES[key];
  const dataFile = `${file}.data`;
  await rm(join(outDir, dataFile), { force: true });
  const fp16 = precision === "fp16";
  const g = new GraphBuilder(key, { weights, externalDataPath: join(outDir, dataFile), precision, ...(fp16 ? { externalThreshold: FP16_EXTERNAL_THRESHOLD } : {}) });
  BUILDERS[key](g, config, vocabSize);
  const model = g.toModel();
  await writeFile(join(outDir, file), onnxProto.onnx.ModelProto.encode(model).finish());
  const files = [file];
  if (fp16) {
    await writeFile(join(outDir, GPU_GRAPH_FILES[key]), onnxProto.onnx.ModelProto.encode(toFloat16Compute(model)).finish());
    files.push(GPU_GRAPH_FILES[key]);
  }
  const hasData = await stat(join(outDir, dataFile)).then(
    () => true,
    () => false,
  );
  return hasData ? [...files, dataFile] : files;
}

/**
 * `safety_checker.onnx` (+ `.data`). It stays a float32-compute graph in fp16 bundles too (no gpuGraphs
 * entry): one ViT pass per output image is cheap, and its scores are compared with thresholds 0.01 apart.
 */
async function writeSafetyChecker(config: SafetyCheckerConfig, outDir: string, weights: WeightSource, precision: WeightPrecision): Promise<string[]> {
  const dataFile = `${SAFETY_CHECKER_FILE}.data`;
  await rm(join(outDir, dataFile), { force: true });
  const g = new GraphBuilder("safetyChecker", { weights, externalDataPath: join(outDir, dataFile), precision, ...(precision === "fp16" ? { externalThreshold: FP16_EXTERNAL_THRESHOLD } : {}) });
  buildSafetyChecker(g, config);
  await writeFile(join(outDir, SAFETY_CHECKER_FILE), g.toBytes());
  const hasData = await stat(join(outDir, dataFile)).then(
    () => true,
    () => false,
  );
  return hasData ? [SAFETY_CHECKER_FILE, dataFile] : [SAFETY_CHECKER_FILE];
}

/**
 * Writes a model bundle (DESIGN §4) into `outDir`: the five graphs, the safety checker when the config has
 * one, the merges file and a
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
  const safetyWeights = isPerGraph(weights) ? weights.safetyChecker : weights;
  if (config.safetyChecker && !safetyWeights) throw new Error(`config ${config.name} has a safety checker but no weights were given for it`);
  const safety = config.safetyChecker && safetyWeights ? await writeSafetyChecker(config.safetyChecker, outDir, safetyWeights, precision) : [];
  written.push(...safety);

  const manifest: Manifest = {
    name: config.name,
    version: options.version ?? GRAPH_REVISION,
    hiddenSize: config.hiddenSize,
    sizes: config.sizes,
    memory: config.memory,
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
    graphs: safety.length > 0 ? { ...GRAPH_FILES, safetyChecker: SAFETY_CHECKER_FILE } : GRAPH_FILES,
    ...(precision === "fp16" ? { gpuGraphs: GPU_GRAPH_FILES } : {}),
    files: await Promise.all(written.map((path) => describeFile(outDir, path))),
  };
  await writeFile(join(outDir, "manifest.json"), `${JSON.stringify(manifest, null, 2)}\n`);
  return manifest;
}
