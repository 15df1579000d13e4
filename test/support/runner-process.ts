import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { waitFor } from "./wait-for.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

export interface RunnerProcess {
  child: ChildProcess;
  /** Every JSON log line the runner printed so far. */
  events: Record<string, unknown>[];
  exited: Promise<number | null>;
  kill(signal: NodeJS.Signals): void;
}

/** Starts a real runner process (the same entry point production runs) and waits until it is ready. */
export async function startRunner(env: Record<string, string>): Promise<RunnerProcess> {
  const child = spawn(process.execPath, ["--import", "tsx", "gpu-runner/src/worker/main.ts"], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, TROUPE_WAIT_TIME_S: "1", TROUPE_INTRA_OP_THREADS: "1", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const events: Record<string, unknown>[] = [];
  let stderr = "";
  let buffered = "";
  child.stdout!.on("data", (chunk: Buffer) => {
    buffered += chunk.toString();
    const lines = buffered.split("\n");
    buffered = lines.pop()!;
    for (const line of lines) {
      try {
        events.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        // not a log line
      }
    }
  });
  child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  let done = false;
  void exited.then(() => (done = true));
  await waitFor(() => {
    if (done) throw new Error(`runner exited before it was ready: ${stderr}`);
    return events.some((e) => e.event === "worker_ready");
  }, { timeoutMs: 60_000, what: "runner ready" });
  return { child, events, exited, kill: (signal) => child.kill(signal) };
}
