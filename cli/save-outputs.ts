import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { TroupeError, type Job } from "@troupe/functions/client";

export interface SavedFiles {
  images: string[];
  attentionMaps: string[];
}

async function download(url: string, path: string): Promise<string> {
  const res = await fetch(url);
  if (!res.ok) throw new TroupeError({ code: "unexpected_response", message: `Could not download ${path} (HTTP ${res.status}).`, status: res.status });
  await writeFile(path, Buffer.from(await res.arrayBuffer()));
  return path;
}

/** `<out>/<jobId>-<n>.png` for each image and `<out>/<jobId>-attention-<subject>.png` for each heatmap. */
export async function saveOutputs(job: Job, outDir: string): Promise<SavedFiles> {
  await mkdir(outDir, { recursive: true });
  const images = await Promise.all(job.outputs.map((o, n) => download(o.url, join(outDir, `${job.id}-${n}.png`))));
  const attentionMaps = await Promise.all(job.attentionMaps.map((m) => download(m.url, join(outDir, `${job.id}-attention-${m.subject}.png`))));
  return { images, attentionMaps };
}
