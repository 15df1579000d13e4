import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { GetObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { ManifestSchema, type Manifest } from "../contracts/manifest.ts";
import { BundleError } from "../errors.ts";
import { ClipTokenizer } from "../tokenizer/index.ts";

/**
 * What the API needs from the deployed model bundle: the manifest (sizes, maxSubjects, token ids)
 * and the same tokenizer the runner builds, so a request is validated exactly as it will run.
 */
export interface ModelInfo {
  manifest: Manifest;
  tokenizer: ClipTokenizer;
}

interface S3Location {
  bucket: string;
  prefix: string;
}

function parseS3(location: string): S3Location | null {
  const match = /^s3:\/\/([^/]+)\/?(.*)$/.exec(location);
  if (!match) return null;
  return { bucket: match[1], prefix: match[2].replace(/\/+$/, "") };
}

/** Bundle paths are relative and stay inside the bundle. */
function assertInside(path: string): void {
  if (path.startsWith("/") || path.split("/").includes("..")) {
    throw new BundleError(`Bundle path ${JSON.stringify(path)} must be relative to the bundle folder.`);
  }
}

async function readBundleFile(location: string, path: string, s3?: S3Client): Promise<Buffer> {
  assertInside(path);
  const remote = parseS3(location);
  if (!remote) {
    try {
      return await readFile(join(location, path));
    } catch (e) {
      throw new BundleError(`Cannot read ${path} from the bundle at ${location}: ${(e as Error).message}`);
    }
  }
  if (!s3) throw new BundleError(`Reading the bundle at ${location} needs an S3 client.`);
  const key = remote.prefix ? `${remote.prefix}/${path}` : path;
  try {
    const out = await s3.send(new GetObjectCommand({ Bucket: remote.bucket, Key: key }));
    return Buffer.from(await out.Body!.transformToByteArray());
  } catch (e) {
    throw new BundleError(`Cannot read s3://${remote.bucket}/${key}: ${(e as Error).message}`);
  }
}

const isGzip = (bytes: Buffer) => bytes.length > 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;

function parseManifest(bytes: Buffer, location: string): Manifest {
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString("utf8"));
  } catch {
    throw new BundleError(`manifest.json at ${location} is not JSON.`);
  }
  const result = ManifestSchema.safeParse(json);
  if (!result.success) throw new BundleError(`manifest.json at ${location} does not match the manifest schema.`, result.error.issues);
  return result.data;
}

/** Reads `manifest.json` and the merges file it names from a local folder or an `s3://bucket/prefix`. */
export async function loadModelInfo(location: string, s3?: S3Client): Promise<ModelInfo> {
  const manifest = parseManifest(await readBundleFile(location, "manifest.json", s3), location);
  const merges = await readBundleFile(location, manifest.tokenizer.merges, s3);
  const text = (isGzip(merges) ? gunzipSync(merges) : merges).toString("utf8");
  const tokenizer = ClipTokenizer.fromMerges(text, { vocabSize: manifest.tokens.vocabSize });
  return { manifest, tokenizer };
}
