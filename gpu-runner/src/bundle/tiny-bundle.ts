import { mkdir, rename, rm } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { ModelConfig } from "../graph/configs/model-config.ts";
import { TINY_CONFIG } from "../graph/configs/tiny.ts";
import { seededRandom } from "../graph/weights.ts";
import { readManifest } from "./load-bundle.ts";
import { GRAPH_REVISION, writeBundle } from "./write-bundle.ts";

/** `models/` under the repository root (gitignored). */
export const MODELS_DIR = fileURLToPath(new URL("../../../models/", import.meta.url));
/** The seed of the tiny bundle, also make-bundle's default. */
export const TINY_SEED = 1234;

/** A seeded random-weight bundle's version: the graph revision and the seed, as `make-bundle` writes it. */
export const seededVersion = (seed: number) => `${GRAPH_REVISION}-seed${seed}`;

async function isCurrent(dir: string, name: string, version: string): Promise<boolean> {
  return readManifest(dir).then(
    (m) => m.name === name && m.version === version,
    () => false,
  );
}

export interface EnsureBundleOptions {
  /** @default TINY_SEED */
  seed?: number;
  /** The CLIP merges file, for configs that do not train their own. */
  merges?: string;
}

/**
 * Writes a seeded random-weight bundle of `config` into `dir` unless a current one is there (same graph
 * revision and seed); returns `dir`. Safe when several processes call it at once: each writes a private temp
 * folder and renames it into place; the first rename wins and the others drop their copy.
 */
export async function ensureBundle(config: ModelConfig, dir: string, options: EnsureBundleOptions = {}): Promise<string> {
  const seed = options.seed ?? TINY_SEED;
  const version = seededVersion(seed);
  if (await isCurrent(dir, config.name, version)) return dir;
  await mkdir(dirname(dir), { recursive: true });
  const temp = `${dir}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
  try {
    await writeBundle(config, temp, seededRandom(seed), { version, merges: options.merges });
    if (!(await isCurrent(dir, config.name, version))) {
      // a stale bundle (older graph revision) moves aside first; rename cannot replace a non-empty dir
      const stale = `${dir}.stale-${process.pid}-${Math.random().toString(36).slice(2)}`;
      await rename(dir, stale).then(
        () => rm(stale, { recursive: true, force: true }),
        () => undefined,
      );
      await rename(temp, dir).catch(async (e: NodeJS.ErrnoException) => {
        if (!(await isCurrent(dir, config.name, version))) throw e; // lost the race to a process that wrote the same bundle: fine
      });
    }
  } finally {
    await rm(temp, { recursive: true, force: true });
  }
  return dir;
}

/** The tiny bundle in `models/tiny` (tests, `npm start`), written on demand. */
export const ensureTinyBundle = (dir: string = join(MODELS_DIR, "tiny")): Promise<string> => ensureBundle(TINY_CONFIG, dir);
