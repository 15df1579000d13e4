import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { waitFor } from "./wait-for.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

export interface LoggedProcess {
  child: ChildProcess;
  /** Every JSON log line the process printed so far. */
  events: Record<string, unknown>[];
  exited: Promise<number | null>;
  kill(signal: NodeJS.Signals): void;
}

/**
 * Starts one of the project's entry points as a real process (as production runs it), collects its
 * JSON log lines, and waits for its `ready` event; fails with its stderr if it exits first.
 */
export async function startLoggedProcess(entry: string, ready: string, env: Record<string, string>): Promise<LoggedProcess> {
  const child = spawn(process.execPath, ["--import", "tsx", entry], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, TROUPE_WAIT_TIME_S: "1", ...env },
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
  let done = false;
  // "close", not "exit": it comes after the last of stdout, so `events` is complete once this settles.
  const exited = new Promise<number | null>((resolve) => child.once("close", (code) => ((done = true), resolve(code))));
  await waitFor(() => {
    if (done) throw new Error(`${entry} exited before it was ready: ${stderr}`);
    return events.some((e) => e.event === ready);
  }, { timeoutMs: 60_000, what: `${entry} ready` });
  return { child, events, exited, kill: (signal) => child.kill(signal) };
}
