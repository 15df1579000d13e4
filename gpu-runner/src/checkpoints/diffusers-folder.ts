import { existsSync, readFileSync, readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { openCheckpoint } from "./open-checkpoint.ts";
import type { TensorFile } from "./tensor-file.ts";

export type Json = Record<string, unknown>;

/** A JSON file as an object, or an error naming it. */
export function readJson(path: string): Json {
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(path, "utf8"));
  } catch (e) {
    throw new Error(`${path}: not readable JSON (${(e as Error).message})`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new Error(`${path}: expected a JSON object`);
  return value as Json;
}

/** One component folder of a diffusers / transformers save_pretrained layout. */
export interface FolderComponent {
  dir: string;
  config: Json | undefined;
  /** The weight files read (several when sharded). */
  files: TensorFile[];
  /** Other weight files in the folder that were not read, and why. */
  skipped: { file: string; reason: string }[];
}

/**
 * The weight files diffusers would load, best first: float32 before the `fp16` variant, safetensors before
 * torch pickles, a sharded index (`*.index.json`) before a single file of the same kind.
 */
function weightCandidates(base: string[]): string[] {
  const names: string[] = [];
  for (const variant of ["", ".fp16"])
    for (const ext of [".safetensors", ".bin"])
      for (const b of base) names.push(`${b}${ext}.index${variant}.json`, `${b}${variant}${ext}.index.json`, `${b}${variant}${ext}`);
  return [...new Set(names)];
}

const BASENAMES = ["diffusion_pytorch_model", "model", "pytorch_model"];

/** The shard files named by an index json's `weight_map`, in first-seen order. */
function shardsOf(indexPath: string): string[] {
  const map = readJson(indexPath).weight_map;
  if (typeof map !== "object" || map === null) throw new Error(`${indexPath}: no weight_map`);
  const shards = [...new Set(Object.values(map as Record<string, string>))];
  for (const shard of shards) if (!existsSync(join(dirname(indexPath), shard))) throw new Error(`${indexPath}: names shard ${shard}, which is not in ${dirname(indexPath)}`);
  return shards.map((s) => join(dirname(indexPath), s));
}

/** Opens a component folder (`unet/`, `vae/`, `text_encoder/` …): its config.json and the weights diffusers would pick. */
export function openFolderComponent(dir: string): FolderComponent {
  if (!existsSync(dir)) throw new Error(`${dir}: no such folder`);
  const config = existsSync(join(dir, "config.json")) ? readJson(join(dir, "config.json")) : undefined;
  const present = new Set(readdirSync(dir));
  const chosen = weightCandidates(BASENAMES).find((name) => present.has(name));
  if (!chosen) throw new Error(`${dir}: no weights (looked for ${BASENAMES.map((b) => `${b}.safetensors`).join(", ")}, their .bin and .fp16 variants and sharded indexes)`);
  const paths = chosen.endsWith(".json") ? shardsOf(join(dir, chosen)) : [join(dir, chosen)];
  const read = new Set([chosen, ...paths.map((p) => p.slice(dir.length + 1))]);
  const skipped = [...present]
    .filter((name) => !read.has(name) && /\.(safetensors|bin|ckpt|pt|pth)$/.test(name))
    .map((name) => ({ file: join(dir, name), reason: `${chosen} is preferred (float32 before fp16, safetensors before .bin)` }));
  const files: TensorFile[] = [];
  try {
    for (const path of paths) files.push(openCheckpoint(path));
  } catch (e) {
    for (const f of files) f.close();
    throw e;
  }
  return { dir, config, files, skipped };
}
