import { existsSync, readFileSync } from "node:fs";
import { mkdir, mkdtemp, rename, rm } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { parse as parseYaml } from "yaml";
import { SchedulerConfigSchema, type Manifest, type SchedulerConfig } from "@troupe/shared/contracts/manifest";
import { readJson, type Json } from "../checkpoints/diffusers-folder.ts";
import { GRAPH_FILES, graphSpecs, safetyCheckerSpec, type GraphKey } from "../bundle/graph-spec.ts";
import { checkGpuGraph, readManifest } from "../bundle/load-bundle.ts";
import { GRAPH_REVISION, writeBundle } from "../bundle/write-bundle.ts";
import type { WeightPrecision } from "../graph/builder.ts";
import type { ModelConfig } from "../graph/configs/model-config.ts";
import { checkSessionIo, createSession } from "../onnx/sessions.ts";
import { COMPONENTS, ComponentWeights, type Component, type Ignored } from "./component-weights.ts";
import { deriveModelConfig, ldmLayout, type ConfigOrigins } from "./derive-config.ts";
import { fastComposerOffer, sd15Offer, vaeOffer, type Offer } from "./sources.ts";
import { checkTokenizer } from "./tokenizer-files.ts";

/** Components an operator may take from SD 1.5 even where the checkpoint holds them (`--from-sd15`). */
export const SD15_COMPONENT_NAMES: Record<string, Component> = { unet: "unet", vae: "vae", text_encoder: "textEncoder" };

export interface BuildOptions {
  /** FastComposer's pytorch_model.bin. */
  fastcomposer: string;
  /** SD 1.5: a diffusers folder or a single file (.safetensors / .ckpt). */
  sd15: string;
  out: string;
  /** A clip-vit-large-patch14 folder: config.json (image encoder sizes), and the tokenizer when SD 1.5 has none. */
  clip?: string;
  /** CompVis' v1-inference.yaml for a single file. */
  sd15Config?: string;
  /** A VAE to use instead of the checkpoint's / SD 1.5's. */
  vae?: string;
  /** Components to take from SD 1.5 although the checkpoint holds them. */
  fromSd15?: Component[];
  /** @default "fp32" */
  precision?: WeightPrecision;
  /** @default "fastcomposer-sd15" */
  name?: string;
  /** Load every graph on the CPU provider and check its inputs and outputs before the bundle is moved into place. @default true */
  verifySessions?: boolean;
}

export interface IgnoredGroup {
  file: string;
  count: number;
  reason: string;
}

export interface ComponentReport {
  component: Component;
  source: string;
  tensors: number;
  from: { file: string; count: number }[];
  ignored: IgnoredGroup[];
}

export interface BuildReport {
  out: string;
  manifest: Manifest;
  config: ModelConfig;
  origins: ConfigOrigins;
  components: ComponentReport[];
  /** Tensors no component takes (schedule buffers, EMA copies, files a folder has twice), with the reason. */
  unused: IgnoredGroup[];
  bytes: number;
  seconds: number;
}

const GRAPH_OF: Record<Exclude<Component, "safetyChecker">, GraphKey> = { unet: "unet", vae: "vaeDecoder", textEncoder: "textEncoder", imageEncoder: "imageEncoder", fuse: "fuse" };
const TOKEN_EMBEDDING = "text_model.embeddings.token_embedding.weight";

/** CompVis' yaml as an object, or an error naming the file. */
function readYaml(path: string): Json {
  let value: unknown;
  try {
    value = parseYaml(readFileSync(path, "utf8"));
  } catch (e) {
    throw new Error(`${path}: not readable YAML (${(e as Error).message})`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new Error(`${path}: expected a YAML mapping (CompVis' v1-inference.yaml)`);
  return value as Json;
}

/** diffusers' scheduler_config.json → the manifest's; SD 1.5's values where it is silent. */
function schedulerFrom(json: Json | undefined, where: string): SchedulerConfig | undefined {
  if (!json) return undefined;
  const parsed = SchedulerConfigSchema.safeParse({
    numTrainTimesteps: json.num_train_timesteps ?? 1000,
    betaStart: json.beta_start,
    betaEnd: json.beta_end,
    betaSchedule: json.beta_schedule,
    stepsOffset: json.steps_offset ?? 0,
    setAlphaToOne: json.set_alpha_to_one ?? false,
    predictionType: json.prediction_type ?? "epsilon",
  });
  if (!parsed.success) throw new Error(`${where}: ${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`);
  return parsed.data;
}

/** Per component, the offer it comes from: `--vae` first for the VAE, then the checkpoint (or SD 1.5 where asked). */
function chooseSources(offers: { checkpoint: Offer; sd15: Offer; vae?: Offer }, fromSd15: Set<Component>): Map<Component, Offer> {
  const chosen = new Map<Component, Offer>();
  for (const c of COMPONENTS) {
    const order = fromSd15.has(c) ? [offers.sd15] : [offers.checkpoint, offers.sd15];
    if (c === "vae" && offers.vae) order.unshift(offers.vae);
    const offer = order.find((o) => o.candidates.has(c));
    if (!offer) {
      const asked = fromSd15.has(c) ? ` (--from-sd15 asked for it from ${offers.sd15.label})` : "";
      const inputs = [offers.checkpoint, offers.sd15, offers.vae].filter((o) => o !== undefined).map((o) => o.label).join(", ");
      throw new Error(`missing component ${c}: none of the inputs (${inputs}) holds it${asked}`);
    }
    chosen.set(c, offer);
  }
  return chosen;
}

/**
 * Every graph loads on the CPU provider with the contract's inputs and outputs. An fp16 bundle's
 * `gpuGraphs` (float16 compute, for cuda / webgpu) are checked structurally too, and loaded on the CPU as
 * well: ORT's CPU provider wraps the ops it has no float16 kernel for in Casts, so it type-checks the
 * whole graph and sees the float32 I/O a GPU session will.
 */
async function verifyBundle(dir: string): Promise<void> {
  // writeBundle has just hashed every file into the manifest: the sessions are what is left to check
  const manifest = await readManifest(dir);
  const specs = graphSpecs(manifest);
  // one session at a time: peak memory stays at one graph, not the whole model
  if (manifest.graphs.safetyChecker) {
    const file = manifest.graphs.safetyChecker;
    const session = await createSession(join(dir, file), file, { executionProvider: "cpu", graphOptimizationLevel: "disabled" });
    try {
      checkSessionIo(session, safetyCheckerSpec(), file);
    } finally {
      await session.release();
    }
  }
  for (const key of Object.keys(specs) as GraphKey[]) {
    const gpu = manifest.gpuGraphs?.[key];
    if (gpu) await checkGpuGraph(dir, gpu);
    for (const file of gpu ? [manifest.graphs[key], gpu] : [manifest.graphs[key]]) {
      const session = await createSession(join(dir, file), file, { executionProvider: "cpu", graphOptimizationLevel: "disabled" });
      try {
        checkSessionIo(session, specs[key], file);
      } finally {
        await session.release();
      }
    }
  }
}

/** Moves `temp` to `out`, replacing an older bundle there only once the new one is complete; on failure the old one is put back. */
async function replaceFolder(out: string, temp: string): Promise<void> {
  const old = existsSync(out) ? await mkdtemp(`${out}.old-`) : undefined;
  try {
    if (old) await rename(out, join(old, "bundle"));
    try {
      await rename(temp, out);
    } catch (e) {
      if (old) await rename(join(old, "bundle"), out);
      throw e;
    }
  } finally {
    if (old) await rm(old, { recursive: true, force: true });
  }
}

/** Ignored tensors counted per file and reason. */
function groupIgnored(ignored: Ignored[]): IgnoredGroup[] {
  const grouped = new Map<string, IgnoredGroup>();
  for (const i of ignored) {
    const k = `${i.file}\u0000${i.reason}`;
    const g = grouped.get(k) ?? { file: i.file, count: 0, reason: i.reason };
    g.count++;
    grouped.set(k, g);
  }
  return [...grouped.values()];
}

function summarize(component: Component, offer: Offer, weights: ComponentWeights, ignored: Ignored[]): ComponentReport {
  const used = weights.usedByFile();
  return {
    component,
    source: offer.label,
    tensors: [...used.values()].reduce((a, b) => a + b, 0),
    from: [...used].map(([file, count]) => ({ file, count })),
    ignored: groupIgnored(ignored),
  };
}

/**
 * Builds the FastComposer bundle from the files operators download: FastComposer's checkpoint wins for
 * every component it holds (its fine-tuned UNet and image encoder above all); SD 1.5 supplies the
 * tokenizer, the scheduler config and whatever the checkpoint lacks. Every source tensor ends up in a
 * graph or in the report's ignored list with a reason; anything else is an error. The bundle is written
 * to a temp folder beside `out`, verified, and only then renamed into place.
 */
export async function buildModel(options: BuildOptions): Promise<BuildReport> {
  const started = performance.now();
  const out = resolve(options.out);
  const labels: Record<string, string> = {};
  const ldm = options.sd15Config ? readYaml(options.sd15Config) : undefined;
  if (options.sd15Config) labels.ldm = options.sd15Config;
  const clipConfigPath = options.clip ? join(options.clip, "config.json") : undefined;
  const clip = clipConfigPath ? readJson(clipConfigPath) : undefined;
  if (clipConfigPath) labels.clip = clipConfigPath;

  // the single-file key map needs the layout before any config.json could be read from a folder
  const layout = ldmLayout(ldm, options.sd15Config);
  const opened: Offer[] = [];
  try {
    const checkpoint = fastComposerOffer(options.fastcomposer);
    opened.push(checkpoint);
    const sd15 = sd15Offer(options.sd15, layout);
    opened.push(sd15);
    const vae = options.vae ? vaeOffer(options.vae, layout) : undefined;
    if (vae) opened.push(vae);
    if (vae && !vae.candidates.has("vae")) throw new Error(`--vae ${options.vae}: holds no VAE weights`);
    const chosen = chooseSources({ checkpoint, sd15, vae }, new Set(options.fromSd15 ?? []));

    const weights = new Map<Component, ComponentWeights>();
    const ignored = new Map<Component, Ignored[]>(COMPONENTS.map((c) => [c, []]));
    for (const c of COMPONENTS) {
      const w = new ComponentWeights(c);
      for (const candidate of chosen.get(c)!.candidates.get(c)!) w.add(candidate);
      weights.set(c, w);
      for (const o of opened)
        if (o !== chosen.get(c))
          for (const candidate of o.candidates.get(c) ?? [])
            ignored.get(c)!.push({ file: candidate.tensor.file, key: candidate.tensor.key, reason: `superseded by the ${chosen.get(c)!.label}'s ${c}` });
    }

    // The safety checker comes only from SD 1.5's safety_checker/ (FastComposer's checkpoint has none); without it
    // the bundle has none, which the report and the manifest say (jobs under policy block / flag then fail).
    const safetyOffer = sd15.candidates.get("safetyChecker");
    const safetyWeights = safetyOffer ? new ComponentWeights("safetyChecker") : undefined;
    for (const candidate of safetyOffer ?? []) safetyWeights!.add(candidate);
    if (safetyWeights) labels.safetyChecker = `${options.sd15}/safety_checker/config.json`;

    const embedding = weights.get("textEncoder")!.get(TOKEN_EMBEDDING);
    if (!embedding) throw new Error(`textEncoder: ${TOKEN_EMBEDDING} is in none of the inputs`);
    for (const [part, json] of [["unet", sd15.configs.unet], ["vae", vae?.configs.vae ?? sd15.configs.vae], ["text", sd15.configs.textEncoder]] as const) {
      if (json) labels[part] = `${options.sd15}/${part === "text" ? "text_encoder" : part}/config.json`;
    }
    if (vae?.configs.vae) labels.vae = `${options.vae}/config.json`;
    const { config, origins } = deriveModelConfig(
      {
        unet: sd15.configs.unet,
        vae: vae?.configs.vae ?? sd15.configs.vae,
        text: sd15.configs.textEncoder,
        clip,
        ldm,
        vocabSize: embedding.tensor.shape[0],
        safetyChecker: safetyWeights ? (sd15.configs.safetyChecker ?? "defaults") : undefined,
        labels,
      },
      options.name ?? "fastcomposer-sd15",
    );

    const tokenizerDir = sd15.tokenizerDir ?? (options.clip && existsSync(join(options.clip, "vocab.json")) ? options.clip : undefined);
    if (!tokenizerDir) throw new Error(`tokenizer: ${options.sd15} has no tokenizer/ folder; pass --clip with a folder holding vocab.json and merges.txt`);
    const merges = checkTokenizer(tokenizerDir, config.tokenizer.kind === "file" ? config.tokenizer.vocabSize : 0);
    const scheduler = schedulerFrom(sd15.configs.scheduler, `${options.sd15}/scheduler/scheduler_config.json`);

    // never replace a folder that is not a bundle (`--out .`, the SD 1.5 folder by mistake)
    if (existsSync(out) && !existsSync(join(out, "manifest.json"))) throw new Error(`--out ${out} exists and is not a bundle (no manifest.json); choose a new folder or remove it`);
    await mkdir(dirname(out), { recursive: true });
    const temp = await mkdtemp(`${out}.partial-`);
    try {
      const perGraph = {
        ...(Object.fromEntries(COMPONENTS.map((c) => [GRAPH_OF[c as keyof typeof GRAPH_OF], weights.get(c)!])) as Record<GraphKey, ComponentWeights>),
        safetyChecker: safetyWeights,
      };
      const manifest = await writeBundle(config, temp, perGraph, {
        merges,
        scheduler,
        precision: options.precision ?? "fp32",
        version: `${GRAPH_REVISION}-fastcomposer-${options.precision ?? "fp32"}`,
      });
      const components = COMPONENTS.map((c) => {
        const { ignored: notInGraph, unexpected } = weights.get(c)!.leftovers();
        if (unexpected.length > 0) {
          const shown = unexpected.slice(0, 5).map((u) => `${u.tensor.key} (${u.tensor.file})`).join(", ");
          throw new Error(`${c}: ${unexpected.length} tensor(s) the graph did not use, so the sizes do not match the weights: ${shown}${unexpected.length > 5 ? ", …" : ""}`);
        }
        return summarize(c, chosen.get(c)!, weights.get(c)!, [...notInGraph, ...ignored.get(c)!]);
      });
      if (safetyWeights) {
        const { ignored: notInGraph, unexpected } = safetyWeights.leftovers();
        if (unexpected.length > 0) throw new Error(`safetyChecker: ${unexpected.length} tensor(s) the graph did not use, so the sizes do not match the weights: ${unexpected.slice(0, 5).map((u) => u.tensor.key).join(", ")}`);
        components.push(summarize("safetyChecker", sd15, safetyWeights, notInGraph));
      }
      if (options.verifySessions ?? true) await verifyBundle(temp);
      await replaceFolder(out, temp);
      const bytes = manifest.files.reduce((sum, f) => sum + f.bytes, 0);
      return { out, manifest, config, origins, components, unused: groupIgnored(opened.flatMap((o) => o.ignored)), bytes, seconds: (performance.now() - started) / 1000 };
    } finally {
      await rm(temp, { recursive: true, force: true });
    }
  } finally {
    for (const o of opened) o.close();
  }
}
