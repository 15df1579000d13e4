import { createReadStream } from "node:fs";
import { join } from "node:path";
import { PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import type { Manifest } from "@troupe/shared/contracts/manifest";

const S3_URL = /^s3:\/\/([^/]+)\/?(.*)$/;

/** `s3://bucket/prefix/` → its parts, or an error saying what is expected. */
export function parseS3Url(url: string): { bucket: string; prefix: string } {
  const m = S3_URL.exec(url);
  if (!m) throw new Error(`--publish must look like s3://bucket/prefix/, got ${url}`);
  return { bucket: m[1], prefix: m[2].replace(/\/+$/, "") };
}

/**
 * Uploads a built bundle under an S3 prefix: every file first, manifest.json last, so a runner that
 * reads the prefix mid-upload finds either no manifest or a complete bundle. Publish each build under
 * its own prefix (runners cache a prefix's files and refuse ones whose sha256 changed under them).
 */
export async function publishBundle(s3: S3Client, dir: string, manifest: Manifest, url: string): Promise<string[]> {
  const { bucket, prefix } = parseS3Url(url);
  const key = (path: string) => (prefix ? `${prefix}/${path}` : path);
  const uploaded: string[] = [];
  for (const file of [...manifest.files, { path: "manifest.json" }]) {
    const bytes = "bytes" in file ? { ContentLength: file.bytes } : {};
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key(file.path), Body: createReadStream(join(dir, file.path)), ...bytes }));
    uploaded.push(`s3://${bucket}/${key(file.path)}`);
  }
  return uploaded;
}
