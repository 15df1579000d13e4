import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** The monorepo root (the folder with package-lock.json), found from this file, not from the cwd. */
export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

/** The lock file NodejsFunction hashes and resolves from; one for the whole workspace. */
export const LOCK_FILE = join(REPO_ROOT, "package-lock.json");

/** The API's Lambda entry (written in functions/). */
export const API_ENTRY = join(REPO_ROOT, "functions", "src", "handlers", "lambda.ts");

/** The webhook sender's Lambda entry (written in functions/). */
export const WEBHOOKS_ENTRY = join(REPO_ROOT, "functions", "src", "handlers", "webhooks-lambda.ts");

/** The runner image's Dockerfile, relative to the build context (the repo root). */
export const RUNNER_DOCKERFILE = "gpu-runner/Dockerfile";

