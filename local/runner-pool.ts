import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
/** Makes a runner stop itself when this process is gone (see the file). */
const PARENT_WATCH = new URL("./runner-parent-watch.ts", import.meta.url).href;
/** Past the runner's own shutdown grace, a runner that has not exited is killed, so stop() always returns. */
const KILL_MARGIN_MS = 15_000;

export interface RunnerPool {
  stop(): Promise<void>;
}

/**
 * N runner processes (the production entry point), each restarted if it dies while the stack
 * runs. Their JSON log lines are passed through with a `[runner-i]` prefix. Each also stops by
 * itself (SIGTERM to itself) if this process dies without stopping it.
 */
export function startRunnerPool(count: number, env: Record<string, string>, log: (line: string) => void): RunnerPool {
  let stopping = false;
  const children = new Set<ChildProcess>();
  const launch = (i: number) => {
    const child = spawn(process.execPath, ["--import", "tsx", "--import", PARENT_WATCH, "gpu-runner/src/worker/main.ts"], {
      cwd: ROOT,
      // The stack process has already shown the AWS SDK's "upgrade Node" notice for this same Node
      // (its documented switch; a value set by the caller wins).
      env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true", ...process.env, ...env, TROUPE_PARENT_PID: String(process.pid) },
      stdio: ["ignore", "pipe", "pipe"],
    });
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
      const graceS = Number(env.TROUPE_SHUTDOWN_GRACE_S ?? process.env.TROUPE_SHUTDOWN_GRACE_S ?? 30);
      const graceMs = (Number.isFinite(graceS) ? graceS : 30) * 1000;
      await Promise.all(
        [...children].map(
          (child) =>
            new Promise<void>((resolve) => {
              if (child.exitCode !== null || child.signalCode !== null) return resolve();
              const backstop = setTimeout(() => child.kill("SIGKILL"), graceMs + KILL_MARGIN_MS);
              child.once("exit", () => {
                clearTimeout(backstop);
                resolve();
              });
              child.kill("SIGTERM");
            }),
        ),
      );
    },
  };
}
