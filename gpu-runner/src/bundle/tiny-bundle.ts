import { mkdir, rename, rm } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { ModelConfig } from "../graph/configs/model-config.ts";
import { TINY_CONFIG } from "../graph/configs/tiny.ts";
import { seededRandom, type WeightSource } from "../graph/weights.ts";
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
  /**
   * A test bundle whose safety checker flags every image: its concept thresholds are −2, below any cosine
   * similarity (the random checker's thresholds of 1 flag none). Versioned apart from the plain bundle.
   */
  flagEverything?: boolean;
}

/** The concept threshold below every cosine similarity (≥ −1): every concept score is positive, every image flagged. */
const FLAG_ALL_THRESHOLD = -2;

/** `source` with the safety checker's concept thresholds replaced by FLAG_ALL_THRESHOLD. */
function flaggingEverything(source: WeightSource): WeightSource {
  return {
    tensor: (name, dims, init, fanIn) => (name === "concept_embeds_weights" ? new Float32Array(dims[0]).fill(FLAG_ALL_THRESHOLD) : source.tensor(name, dims, init, fanIn)),
  };
}

/**
 * Writes a seeded random-weight bundle of `config` into `dir` unless a current one is there (same graph
 * revision and seed); returns `dir`. Safe when several processes call it at once: each writes a private temp
 * folder and renames it into place; the first rename wins and the others drop their copy.
 */
export async function ensureBundle(config: ModelConfig, dir: string, options: EnsureBundleOptions = {}): Promise<string> {
  const seed = options.seed ?? TINY_SEED;
  const variant = options.flagEverything ? "-flag-all" : config.safetyChecker ? "" : "-no-safety";
  const version = `${seededVersion(seed)}${variant}`;
  if (await isCurrent(dir, config.name, version)) return dir;
  await mkdir(dirname(dir), { recursive: true });
  const temp = `${dir}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
  try {
    const weights = options.flagEverything ? flaggingEverything(seededRandom(seed)) : seededRandom(seed);
    await writeBundle(config, temp, weights, { version, merges: options.merges });
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

/** The tiny bundle with a safety checker that flags every image, in `models/tiny-flag-all` (safety tests). */
export const ensureFlagAllTinyBundle = (dir: string = join(MODELS_DIR, "tiny-flag-all")): Promise<string> => ensureBundle(TINY_CONFIG, dir, { flagEverything: true });

/** The tiny bundle without a safety checker, in `models/tiny-no-safety` (what the runner does without one). */
export const ensureNoSafetyTinyBundle = (dir: string = join(MODELS_DIR, "tiny-no-safety")): Promise<string> => ensureBundle({ ...TINY_CONFIG, safetyChecker: undefined }, dir);
