import { mkdir, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { TroupeError } from "./errors.js";
import type { Job } from "./types.js";

/**
 * Node-only helpers (`@troupe/client/node`); the core stays fetch-only.
 * `client.run({ subjects: [{ file: await readImage("a.jpg") }] })`.
 */

/** A file's bytes; a path that is a folder, missing or unreadable is a TroupeError `invalid_request` naming it. */
export async function readImage(path: string): Promise<Uint8Array> {
  try {
    const info = await stat(path);
    if (!info.isFile()) throw new TroupeError({ code: "invalid_request", message: `${path} is not a file.`, details: { path } });
    return await readFile(path);
  } catch (e) {
    if (e instanceof TroupeError) throw e;
    const reason = (e as NodeJS.ErrnoException).code === "ENOENT" ? "does not exist" : "cannot be read";
    throw new TroupeError({ code: "invalid_request", message: `${path} ${reason}.`, details: { path }, cause: e });
  }
}

export interface SavedFiles {
  images: string[];
  attentionMaps: string[];
}

async function download(url: string, path: string, fetchImpl: typeof fetch): Promise<string> {
  const res = await fetchImpl(url);
  if (!res.ok) throw new TroupeError({ code: "unexpected_response", message: `Could not download ${path} (HTTP ${res.status}).`, status: res.status });
  await writeFile(path, new Uint8Array(await res.arrayBuffer()));
  return path;
}

/**
 * `<dir>/<jobId>-<n>.png` for each image and `<dir>/<jobId>-attention-<subject>.png` for each heatmap. An image
 * withheld by the safety policy has no URL and no file (its `n` is skipped; `job.outputs[n].reason` says why).
 */
export async function saveOutputs(job: Job, dir: string, fetchImpl: typeof fetch = globalThis.fetch): Promise<SavedFiles> {
  await mkdir(dir, { recursive: true });
  const stored = job.outputs.flatMap((o, n) => (o.url ? [{ url: o.url, n }] : []));
  const images = await Promise.all(stored.map(({ url, n }) => download(url, join(dir, `${job.id}-${n}.png`), fetchImpl)));
  const attentionMaps = await Promise.all(job.attentionMaps.map((m) => download(m.url, join(dir, `${job.id}-attention-${m.subject}.png`), fetchImpl)));
  return { images, attentionMaps };
}
