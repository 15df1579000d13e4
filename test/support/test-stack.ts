import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startLocalStack, type LocalStack } from "../../local/stack.ts";

export interface TestStack extends LocalStack {
  /** The stack's own data folder, removed by stop(). */
  dataDir: string;
}

/**
 * The whole local stack (emulators, API on a free port, quiet runners) in a fresh temp folder,
 * tuned for tests: short long-polls, one ORT thread, frequent progress writes.
 */
export async function startTestStack(name: string, env: Record<string, string> = {}, runners = 1): Promise<TestStack> {
  const dataDir = mkdtempSync(join(tmpdir(), `troupe-${name}-`));
  const stack = await startLocalStack({
    dataDir,
    port: 0,
    runners,
    env: { PATH: process.env.PATH, TROUPE_WAIT_TIME_S: "1", TROUPE_INTRA_OP_THREADS: "1", TROUPE_PROGRESS_INTERVAL_MS: "50", ...env },
    log: () => undefined,
  });
  return {
    ...stack,
    dataDir,
    async stop() {
      await stack.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
