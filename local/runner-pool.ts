import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../", import.meta.url));

export interface RunnerPool {
  stop(): Promise<void>;
}

/**
 * N runner processes (the production entry point), each restarted if it dies while the stack
 * runs. Their JSON log lines are passed through with a `[runner-i]` prefix.
 */
export function startRunnerPool(count: number, env: Record<string, string>, log: (line: string) => void): RunnerPool {
  let stopping = false;
  const children = new Set<ChildProcess>();
  const launch = (i: number) => {
    const child = spawn(process.execPath, ["--import", "tsx", "gpu-runner/src/worker/main.ts"], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    children.add(child);
    const relay = (chunk: Buffer) => chunk.toString().split("\n").filter(Boolean).forEach((l) => log(`[runner-${i}] ${l}`));
    child.stdout!.on("data", relay);
    child.stderr!.on("data", relay);
    child.once("exit", (code, signal) => {
      children.delete(child);
      if (stopping) return;
      log(`[runner-${i}] exited (${signal ?? code}); restarting`);
      setTimeout(() => !stopping && launch(i), 1000).unref();
    });
  };
  for (let i = 0; i < count; i++) launch(i);
  return {
    async stop() {
      stopping = true;
      await Promise.all(
        [...children].map(
          (child) =>
            new Promise<void>((resolve) => {
              child.once("exit", () => resolve());
              child.kill("SIGTERM");
            }),
        ),
      );
    },
  };
}
