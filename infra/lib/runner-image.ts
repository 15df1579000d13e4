import { IgnoreMode } from "aws-cdk-lib";
import { Platform } from "aws-cdk-lib/aws-ecr-assets";
import * as ecs from "aws-cdk-lib/aws-ecs";
import { PRODUCTION_NODE_MAJOR } from "./node-runtime.ts";
import { REPO_ROOT, RUNNER_DOCKERFILE } from "./paths.ts";

/**
 * Paths never sent to `docker build` nor copied into cdk.out: dependencies are installed inside the
 * image, and local data, models and build output can be gigabytes. The repo's .dockerignore says the
 * same for a plain `docker build`; this list keeps synthesis in seconds even without that file.
 */
export const RUNNER_IMAGE_EXCLUDE: readonly string[] = [
  "node_modules",
  "**/node_modules",
  ".data",
  "**/.data",
  "models",
  "cdk.out",
  "**/cdk.out",
  ".git",
  "out",
  "bench/*.json",
  "**/*.tsbuildinfo",
];

export interface RunnerImageOptions {
  /**
   * The Docker build context.
   * @default the repository root
   */
  readonly directory?: string;
}

/**
 * The runner image, built from gpu-runner/Dockerfile with the repo root as context. Synthesis only
 * stages and hashes the context; `cdk deploy` builds and pushes it. linux/amd64 because g5 is x86.
 * NODE_MAJOR is the API's Node major, so both halves of production run the same Node.
 */
export function runnerImageFromAsset(options: RunnerImageOptions = {}): ecs.ContainerImage {
  return ecs.ContainerImage.fromAsset(options.directory ?? REPO_ROOT, {
    file: RUNNER_DOCKERFILE,
    exclude: [...RUNNER_IMAGE_EXCLUDE],
    ignoreMode: IgnoreMode.DOCKER,
    platform: Platform.LINUX_AMD64,
    buildArgs: { NODE_MAJOR: String(PRODUCTION_NODE_MAJOR) },
  });
}
