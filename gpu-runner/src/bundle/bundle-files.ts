import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import type { Manifest } from "@troupe/shared/contracts/manifest";
import { BundleError } from "@troupe/shared/errors";

export type BundleFile = Manifest["files"][number];

/** `dir/path` for a manifest path, which must stay inside the bundle (the schema's regex allows ".."). */
export function bundlePath(dir: string, path: string): string {
  if (path.split("/").some((segment) => segment === ".." || segment === ".")) throw new BundleError(`${path}: not a path inside the bundle`, { file: path });
  return join(dir, path);
}

/**
 * The one place that reads bundle files: a local directory today. An S3 prefix is resolved to a
 * local copy first (fetch-bundle.ts), so nothing below needs to know where the bundle came from.
 */
export async function readBundleText(dir: string, path: string): Promise<string> {
  try {
    return await readFile(bundlePath(dir, path), "utf8");
  } catch (e) {
    throw new BundleError(`${path}: cannot read it from ${dir} (${(e as Error).message})`, { file: path });
  }
}

export async function sha256File(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

/** A manifest `files` entry for `path` inside `dir`. */
export async function describeFile(dir: string, path: string): Promise<BundleFile> {
  const full = join(dir, path);
  return { path, sha256: await sha256File(full), bytes: (await stat(full)).size };
}

/** Every listed file exists with its size and sha256; the first mismatch is a BundleError naming the file. */
export async function verifyFiles(dir: string, files: BundleFile[]): Promise<void> {
  for (const file of files) {
    const full = bundlePath(dir, file.path);
    const size = await stat(full).then(
      (s) => s.size,
      () => undefined,
    );
    if (size === undefined) throw new BundleError(`${file.path}: listed in manifest.json but missing`, { file: file.path });
    if (size !== file.bytes) throw new BundleError(`${file.path}: ${size} bytes, manifest.json says ${file.bytes}`, { file: file.path });
    const sha = await sha256File(full);
    if (sha !== file.sha256) throw new BundleError(`${file.path}: sha256 ${sha} does not match manifest.json (${file.sha256})`, { file: file.path });
  }
}
