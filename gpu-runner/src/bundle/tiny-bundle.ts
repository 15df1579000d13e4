import { mkdir, rename, rm } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { TINY_CONFIG } from "../graph/configs/tiny.ts";
import { seededRandom } from "../graph/weights.ts";
import { readManifest } from "./load-bundle.ts";
import { GRAPH_REVISION, writeBundle } from "./write-bundle.ts";

/** `models/` under the repository root (gitignored). */
export const MODELS_DIR = fileURLToPath(new URL("../../../models/", import.meta.url));
/** The seed of the tiny bundle, also make-bundle's default. */
export const TINY_SEED = 1234;
const TINY_VERSION = `${GRAPH_REVISION}-seed${TINY_SEED}`;

async function isCurrent(dir: string): Promise<boolean> {
  return readManifest(dir).then(
    (m) => m.name === TINY_CONFIG.name && m.version === TINY_VERSION,
    () => false,
  );
}

/**
 * Writes the tiny bundle into `dir` unless a current one is there; returns `dir`. Safe when several
 * processes call it at once: each writes a private temp folder and renames it into place; the first
 * rename wins and the others drop their copy.
 */
export async function ensureTinyBundle(dir: string = join(MODELS_DIR, "tiny")): Promise<string> {
  if (await isCurrent(dir)) return dir;
  await mkdir(dirname(dir), { recursive: true });
  const temp = `${dir}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
  try {
    await writeBundle(TINY_CONFIG, temp, seededRandom(TINY_SEED), { version: TINY_VERSION });
    if (!(await isCurrent(dir))) {
      // a stale bundle (older graph revision) moves aside first; rename cannot replace a non-empty dir
      const stale = `${dir}.stale-${process.pid}-${Math.random().toString(36).slice(2)}`;
      await rename(dir, stale).then(
        () => rm(stale, { recursive: true, force: true }),
        () => undefined,
      );
      await rename(temp, dir).catch(async (e: NodeJS.ErrnoException) => {
        if (!(await isCurrent(dir))) throw e; // lost the race to a process that wrote the same bundle: fine
      });
    }
  } finally {
    await rm(temp, { recursive: true, force: true });
  }
  return dir;
}
