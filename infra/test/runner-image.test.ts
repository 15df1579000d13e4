import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Stack } from "aws-cdk-lib";
import * as ecs from "aws-cdk-lib/aws-ecs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPO_ROOT, RUNNER_DOCKERFILE } from "../lib/paths.ts";
import { runnerImageFromAsset } from "../lib/runner-image.ts";
import { testApp } from "./fixtures/stacks.ts";

describe("runner image asset", () => {
  let outdir: string;
  let staged: string;
  let manifest: { dockerImages: Record<string, { source: { directory: string; dockerFile?: string; platform?: string; dockerBuildArgs?: Record<string, string> } }> };
  beforeAll(() => {
    outdir = mkdtempSync(join(tmpdir(), "troupe-image-"));
    const app = testApp({ outdir });
    const stack = new Stack(app, "ImageTest");
    new ecs.Ec2TaskDefinition(stack, "Task").addContainer("runner", {
      image: runnerImageFromAsset(),
      memoryReservationMiB: 1024,
    });
    const assembly = app.synth();
    manifest = JSON.parse(readFileSync(join(assembly.directory, "ImageTest.assets.json"), "utf8"));
    const [image] = Object.values(manifest.dockerImages);
    staged = join(assembly.directory, image.source.directory);
  });
  afterAll(() => rmSync(outdir, { recursive: true, force: true }));

  it("builds gpu-runner/Dockerfile for linux/amd64 from the repo root", () => {
    const [image] = Object.values(manifest.dockerImages);
    expect(image.source).toMatchObject({ dockerFile: "gpu-runner/Dockerfile", platform: "linux/amd64", dockerBuildArgs: { NODE_MAJOR: "24" } });
  });

  it("stages the sources and lock file but no node_modules, .git or cdk.out", () => {
    expect(existsSync(join(staged, RUNNER_DOCKERFILE))).toBe(true);
    expect(existsSync(join(staged, "package-lock.json"))).toBe(true);
    expect(existsSync(join(staged, "gpu-runner", "package.json"))).toBe(true);
    const top = readdirSync(staged);
    for (const excluded of ["node_modules", ".git", ".data", "models", "cdk.out"]) expect(top).not.toContain(excluded);
    expect(readdirSync(join(staged, "infra"))).not.toContain("cdk.out");
  });
});

describe("gpu-runner/Dockerfile", () => {
  const dockerfile = readFileSync(join(REPO_ROOT, RUNNER_DOCKERFILE), "utf8");
  const instructions = dockerfile.split("\n").filter((line) => /^[A-Z]+ /.test(line));

  it("builds on node:<NODE_MAJOR>-bookworm-slim and runs on CUDA 12.4 with cuDNN", () => {
    expect(instructions.filter((l) => l.startsWith("FROM "))).toEqual([
      "FROM node:${NODE_MAJOR}-bookworm-slim AS build",
      "FROM nvidia/cuda:12.4.1-cudnn-runtime-ubuntu22.04 AS runtime",
    ]);
  });

  it("installs only the runner's workspaces and the onnxruntime CUDA 12 provider", () => {
    expect(dockerfile).toContain("npm ci --omit=dev --workspace @troupe/gpu-runner --workspace @troupe/shared --include-workspace-root");
    expect(dockerfile).toContain("ONNXRUNTIME_NODE_INSTALL=cuda12 node");
  });

  it("runs the worker as a non-root user", () => {
    expect(instructions).toContain("USER troupe");
    expect(instructions.at(-1)).toBe('CMD ["node", "--import", "tsx", "gpu-runner/src/worker/main.ts"]');
  });
});
