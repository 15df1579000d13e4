import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { PutObjectCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestEnv, type TestEnv } from "../../../local/test-env.ts";
import { CLIP_MERGES, fixtureManifest, writeFixtureBundle } from "../../../test/api/support/fixture-bundle.ts";
import { BundleError } from "../errors.ts";
import { ClipTokenizer } from "../tokenizer/index.ts";
import { loadModelInfo } from "./model-info.ts";

let t: TestEnv;
const dirs: string[] = [];
const bundle = (manifest = fixtureManifest()) => {
  const dir = writeFixtureBundle(manifest);
  dirs.push(dir);
  return dir;
};

beforeAll(async () => {
  t = await startTestEnv();
});
afterAll(async () => {
  await t?.stop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe("loadModelInfo", () => {
  it("reads the manifest and the real CLIP merges from a local folder", async () => {
    const info = await loadModelInfo(bundle());
    expect(info.manifest).toMatchObject({ maxSubjects: 2, hiddenSize: 32, sizes: { min: 64, max: 256, multiple: 64 } });
    expect(info.tokenizer).toBeInstanceOf(ClipTokenizer);
  });

  it("reads the same bundle from an s3:// prefix", async () => {
    const manifest = fixtureManifest();
    const put = (Key: string, Body: Buffer | string) => t.clients.s3.send(new PutObjectCommand({ Bucket: t.config.TROUPE_BUCKET, Key, Body }));
    await put("models/fixture/manifest.json", JSON.stringify(manifest));
    await put(`models/fixture/${manifest.tokenizer.merges}`, readFileSync(CLIP_MERGES));
    const remote = await loadModelInfo(`s3://${t.config.TROUPE_BUCKET}/models/fixture/`, t.clients.s3);
    const local = await loadModelInfo(bundle());
    expect(remote.manifest).toEqual(local.manifest);
    expect(remote.tokenizer).toBeInstanceOf(ClipTokenizer);
    await expect(loadModelInfo(`s3://${t.config.TROUPE_BUCKET}/models/missing`, t.clients.s3)).rejects.toBeInstanceOf(BundleError);
    await expect(loadModelInfo(`s3://${t.config.TROUPE_BUCKET}/models/fixture`)).rejects.toThrow(/S3 client/);
  });

  it("refuses a manifest that does not match the schema, is not JSON or points outside the bundle", async () => {
    const bad = bundle();
    writeFileSync(join(bad, "manifest.json"), JSON.stringify({ ...fixtureManifest(), maxSubjects: 0 }));
    await expect(loadModelInfo(bad)).rejects.toMatchObject({ code: "invalid_bundle", details: [expect.objectContaining({ path: ["maxSubjects"] })] });
    writeFileSync(join(bad, "manifest.json"), "{");
    await expect(loadModelInfo(bad)).rejects.toThrow(/not JSON/);
    const escaping = fixtureManifest();
    writeFileSync(join(bad, "manifest.json"), JSON.stringify({ ...escaping, tokenizer: { merges: "../../etc/passwd" } }));
    await expect(loadModelInfo(bad)).rejects.toThrow(/relative to the bundle/);
    await expect(loadModelInfo(join(bad, "nowhere"))).rejects.toBeInstanceOf(BundleError);
  });
});
