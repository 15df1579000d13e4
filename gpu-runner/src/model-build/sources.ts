import { existsSync, statSync } from "node:fs";
import { join } from "node:path";
import { openFolderComponent, readJson, type Json } from "../checkpoints/diffusers-folder.ts";
import { detectForeignLayout, mapLdmKey, renameOldVaeAttention, type LdmLayout } from "../checkpoints/ldm-names.ts";
import { openCheckpoint } from "../checkpoints/open-checkpoint.ts";
import type { StoredTensor, TensorFile } from "../checkpoints/tensor-file.ts";
import type { Candidate, Component, Ignored } from "./component-weights.ts";

/** What one input (a checkpoint, a folder, a single file) offers to the five components. */
export interface Offer {
  /** Names the input in reports: "FastComposer checkpoint", "SD 1.5 folder" … */
  label: string;
  candidates: Map<Component, Candidate[]>;
  /** Tensors with a reason not to use them, decided while mapping names. */
  ignored: Ignored[];
  /** config.json of each component that had one (diffusers folders). */
  configs: Partial<Record<Component | "scheduler", Json>>;
  /** Where `vocab.json` + `merges.txt` are (a diffusers folder's `tokenizer/`). */
  tokenizerDir?: string;
  close(): void;
}

function emptyOffer(label: string, files: TensorFile[]): Offer {
  return { label, candidates: new Map(), ignored: [], configs: {}, close: () => files.forEach((f) => f.close()) };
}

function offer(o: Offer, component: Component, name: string, tensor: StoredTensor, squeeze?: boolean): void {
  const list = o.candidates.get(component) ?? [];
  list.push({ component, name, tensor, ...(squeeze ? { squeeze } : {}) });
  o.candidates.set(component, list);
}

/** Keys no rule knows: an error naming a few, since every tensor must be used or deliberately ignored. */
function rejectUnknown(file: string, keys: string[], what: string): void {
  if (keys.length === 0) return;
  const shown = keys.slice(0, 5).join(", ");
  throw new Error(`${file}: ${keys.length} tensor(s) that are not part of ${what}: ${shown}${keys.length > 5 ? ", …" : ""}`);
}

/** FastComposer's prefixes (FastComposerModel's attributes) → component and the graph's name. */
const FASTCOMPOSER_PREFIXES: [string, Component, (rest: string) => string][] = [
  ["unet.", "unet", (r) => r],
  ["vae.", "vae", renameOldVaeAttention], // diffusers 0.16 names (query/key/value/proj_attn)
  ["text_encoder.", "textEncoder", (r) => (r.startsWith("text_model.") ? r : `text_model.${r}`)], // no text_model. level
  ["image_encoder.", "imageEncoder", (r) => r],
  ["postfuse_module.", "fuse", (r) => r],
];

/** FastComposer's `pytorch_model.bin`: `FastComposerModel.state_dict()` (a `module.` prefix from DDP tolerated). */
export function fastComposerOffer(path: string): Offer {
  const file = openCheckpoint(path);
  const o = emptyOffer("FastComposer checkpoint", [file]);
  const unknown: string[] = [];
  try {
    for (const [key, tensor] of file.tensors) {
      const bare = key.startsWith("module.") ? key.slice("module.".length) : key;
      const rule = FASTCOMPOSER_PREFIXES.find(([prefix]) => bare.startsWith(prefix));
      if (rule) offer(o, rule[1], rule[2](bare.slice(rule[0].length)), tensor);
      else unknown.push(key);
    }
    rejectUnknown(path, unknown, "FastComposer's model (unet., vae., text_encoder., image_encoder., postfuse_module.)");
    if (!o.candidates.has("fuse")) throw new Error(`${path}: no postfuse_module.* tensors: not a FastComposer checkpoint`);
  } catch (e) {
    o.close();
    throw e;
  }
  return o;
}

/** An SD 1.x single file (CompVis/LDM names), `.safetensors` or `.ckpt`. */
function singleFileOffer(path: string, layout: LdmLayout): Offer {
  const file = openCheckpoint(path);
  const o = emptyOffer("SD 1.5 single file", [file]);
  try {
    const foreign = detectForeignLayout(file.tensors.keys());
    if (foreign) throw new Error(`${path}: ${foreign}`);
    const unknown: string[] = [];
    for (const [key, tensor] of file.tensors) {
      const m = mapLdmKey(key, layout);
      if (m.kind === "tensor") offer(o, m.component, m.name, tensor, m.squeeze);
      else if (m.kind === "ignored") o.ignored.push({ file: path, key, reason: m.reason });
      else unknown.push(key);
    }
    rejectUnknown(path, unknown, "an SD 1.x single-file checkpoint (model.diffusion_model., first_stage_model., cond_stage_model.transformer.)");
  } catch (e) {
    o.close();
    throw e;
  }
  return o;
}

/** The diffusers components this build reads from an SD 1.5 folder, with their graph's name rule. */
const FOLDER_COMPONENTS: [string, Component, (key: string) => string][] = [
  ["unet", "unet", (k) => k],
  ["vae", "vae", renameOldVaeAttention], // folders saved by diffusers ≤ 0.16
  ["text_encoder", "textEncoder", (k) => k],
  ["safety_checker", "safetyChecker", (k) => k], // optional: a folder without one builds a bundle without one
];

/** A diffusers `save_pretrained` folder (model_index.json, unet/, vae/, text_encoder/, tokenizer/, scheduler/). */
function folderOffer(dir: string): Offer {
  if (!existsSync(join(dir, "model_index.json"))) throw new Error(`${dir}: not a diffusers folder (no model_index.json)`);
  const index = readJson(join(dir, "model_index.json"));
  const o = emptyOffer("SD 1.5 folder", []);
  const opened: TensorFile[] = [];
  o.close = () => opened.forEach((f) => f.close());
  try {
    for (const [sub, component, rename] of FOLDER_COMPONENTS) {
      if (!index[sub] || !existsSync(join(dir, sub))) continue; // a component the checkpoint may supply
      const c = openFolderComponent(join(dir, sub));
      opened.push(...c.files);
      if (c.config) o.configs[component] = c.config;
      for (const s of c.skipped) o.ignored.push({ file: s.file, key: "*", reason: s.reason });
      for (const f of c.files) for (const [key, tensor] of f.tensors) offer(o, component, rename(key), tensor);
    }
    const foreign = detectForeignLayout([...o.candidates.values()].flat().map((c) => c.name));
    if (foreign) throw new Error(`${dir}: ${foreign}`);
    const scheduler = join(dir, "scheduler", "scheduler_config.json");
    if (existsSync(scheduler)) o.configs.scheduler = readJson(scheduler);
    if (existsSync(join(dir, "tokenizer"))) o.tokenizerDir = join(dir, "tokenizer");
  } catch (e) {
    o.close();
    throw e;
  }
  return o;
}

/** `--sd15`: a diffusers folder or a single file, told apart by what is on disk. */
export function sd15Offer(path: string, layout: LdmLayout): Offer {
  if (!existsSync(path)) throw new Error(`${path}: no such file or folder`);
  return statSync(path).isDirectory() ? folderOffer(path) : singleFileOffer(path, layout);
}

/** LDM VAE names without `first_stage_model.` (e.g. vae-ft-mse-840000-ema-pruned.ckpt). */
const LDM_VAE = /^(encoder|decoder)\.(down|up|mid|norm_out)\b|^(quant_conv|post_quant_conv|loss)\./;

/** `--vae`: a VAE folder or file in diffusers names (old or new attention names) or LDM names. */
export function vaeOffer(path: string, layout: LdmLayout): Offer {
  if (!existsSync(path)) throw new Error(`${path}: no such file or folder`);
  const isDir = statSync(path).isDirectory();
  const component = isDir ? openFolderComponent(path) : undefined;
  const files = component?.files ?? [openCheckpoint(path)];
  const o = emptyOffer("--vae", files);
  if (component?.config) o.configs.vae = component.config;
  const unknown: string[] = [];
  for (const file of files)
    for (const [key, tensor] of file.tensors) {
      const ldm = !key.includes("_blocks.") && LDM_VAE.test(key) ? mapLdmKey(`first_stage_model.${key}`, layout) : undefined;
      if (ldm?.kind === "tensor") offer(o, "vae", ldm.name, tensor, ldm.squeeze);
      else if (ldm?.kind === "ignored") o.ignored.push({ file: file.file, key, reason: ldm.reason });
      else if (/^(encoder|decoder|quant_conv|post_quant_conv)\./.test(key)) offer(o, "vae", renameOldVaeAttention(key), tensor);
      else unknown.push(key);
    }
  try {
    rejectUnknown(path, unknown, "a VAE (encoder., decoder., quant_conv., post_quant_conv.)");
  } catch (e) {
    o.close();
    throw e;
  }
  return o;
}
