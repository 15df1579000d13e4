import { createHash } from "node:crypto";
import { createWriteStream } from "node:fs";
import { mkdir, rename, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { GetObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { BundleError } from "@troupe/shared/errors";
import { bundlePath } from "./bundle-files.ts";
import { readManifest } from "./load-bundle.ts";

const S3_URL = /^s3:\/\/([^/]+)\/?(.*)$/;

/** Where an S3 bundle is cached locally: one folder per bucket/prefix. */
export function cacheDirFor(location: string): string {
  const digest = createHash("sha256").update(location).digest("hex").slice(0, 16);
  return join(process.env.TROUPE_BUNDLE_CACHE ?? join(tmpdir(), "troupe-bundles"), digest);
}

async function download(s3: S3Client, bucket: string, key: string, to: string): Promise<void> {
  await mkdir(dirname(to), { recursive: true });
  const partial = `${to}.part-${process.pid}`;
  try {
    const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    await pipeline(out.Body as Readable, createWriteStream(partial));
  } catch (e) {
    throw new BundleError(`Cannot read s3://${bucket}/${key}: ${(e as Error).message}`, { file: key });
  }
  await rename(partial, to);
}

/**
 * A local directory holding the bundle: `location` itself when local; for `s3://bucket/prefix`, a cache
 * folder filled with the manifest's files (a file already there with the listed size is kept; loadBundle
 * verifies every sha256 afterwards, so a corrupt cache is refused, not used).
 */
export async function resolveBundleDir(location: string, s3?: S3Client): Promise<string> {
  const match = S3_URL.exec(location);
  if (!match) return location;
  if (!s3) throw new BundleError(`Reading the bundle at ${location} needs an S3 client.`);
  const [, bucket, rawPrefix] = match;
  const prefix = rawPrefix.replace(/\/+$/, "");
  const keyOf = (path: string) => (prefix ? `${prefix}/${path}` : path);
  const dir = cacheDirFor(location);
  await download(s3, bucket, keyOf("manifest.json"), join(dir, "manifest.json"));
  const manifest = await readManifest(dir);
  for (const file of manifest.files) {
    const local = bundlePath(dir, file.path);
    const size = await stat(local).then(
      (s) => s.size,
      () => -1,
    );
    if (size !== file.bytes) await download(s3, bucket, keyOf(file.path), local);
  }
  return dir;
}
