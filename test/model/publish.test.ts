import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { copyFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { resolveBundleDir } from "@troupe/gpu-runner/bundle/fetch-bundle";
import { loadBundle, releaseBundle } from "@troupe/gpu-runner/bundle/load-bundle";
import { PARITY, writeClipTokenizer } from "@troupe/gpu-runner/model-build/test-support";
import { startTestEnv, type TestEnv } from "../../local/test-env.ts";

/** `model:build --publish` uploads to the S3 prefix the runners read, and a runner loads it from there. */
const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const FC = join(PARITY, "fastcomposer-checkpoint");
const work = mkdtempSync(join(tmpdir(), "publish-"));
let env: TestEnv;

beforeAll(async () => {
  env = await startTestEnv();
});
afterAll(async () => {
  vi.unstubAllEnvs();
  await env?.stop();
  rmSync(work, { recursive: true, force: true });
});

describe("model:build --publish", () => {
  it("publishes a bundle that a runner fetches, verifies and loads", async () => {
    const clip = writeClipTokenizer(join(work, "clip"), 1000);
    copyFileSync(join(FC, "clip-vit-large-patch14", "config.json"), join(clip, "config.json"));
    const uri = `s3://${env.config.TROUPE_BUCKET}/models/fastcomposer-1/`;
    // asynchronously: the emulators answer from this very process
    const run = await promisify(execFile)(
      process.execPath,
      ["--import", "tsx", "gpu-runner/src/cli/model-build.ts", "--fastcomposer", join(FC, "fastcomposer", "pytorch_model.bin"), "--sd15", join(FC, "stable-diffusion-v1-5"), "--clip", clip, "--out", join(work, "bundle"), "--publish", uri],
      { cwd: ROOT, encoding: "utf8", env: { ...process.env, ...env.env } },
    );
    expect(run.stderr).not.toMatch(/model:build:/);
    expect(run.stdout).toMatch(/^unet: 682 tensors from the FastComposer checkpoint$/m);
    expect(run.stdout).toMatch(new RegExp(`published 7 files to ${uri} \\(manifest.json last\\)`));

    vi.stubEnv("TROUPE_BUNDLE_CACHE", join(work, "cache"));
    const dir = await resolveBundleDir(uri, env.clients.s3);
    const bundle = await loadBundle(dir, { executionProvider: "cpu" });
    expect(bundle.manifest).toMatchObject({ name: "fastcomposer-sd15", hiddenSize: 64, tokens: { vocabSize: 1000 } });
    await releaseBundle(bundle);
  });
});
