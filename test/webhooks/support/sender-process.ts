import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { waitFor } from "../../support/wait-for.ts";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));

export interface SenderProcess {
  child: ChildProcess;
  /** Every JSON log line it printed so far. */
  events: Record<string, unknown>[];
  exited: Promise<number | null>;
}

/** Starts a webhook sender process (functions/src/handlers/webhooks-node.ts) and waits until it polls. */
export async function startSender(env: Record<string, string>): Promise<SenderProcess> {
  const child = spawn(process.execPath, ["--import", "tsx", "functions/src/handlers/webhooks-node.ts"], {
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
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => ((done = true), resolve(code))));
  await waitFor(() => {
    if (done) throw new Error(`webhook sender exited before it was ready: ${stderr}`);
    return events.some((e) => e.event === "webhook_sender_ready");
  }, { timeoutMs: 60_000, what: "webhook sender ready" });
  return { child, events, exited };
}
