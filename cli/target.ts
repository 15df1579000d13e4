import { readFile } from "node:fs/promises";
import { join, resolve } from "node:path";

/** The API the command talks to, and how to let go of it afterwards. */
export interface Target {
  apiUrl: string;
  apiKey: string;
  /** Where it came from, for the one line the command prints about it. */
  source: "flags" | "local-stack" | "embedded";
  close(): Promise<void>;
}

export interface ResolveTargetOptions {
  api?: string;
  apiKey?: string;
  dataDir: string;
  /** Told when the embedded stack is being booted (it takes a few seconds on first run). */
  onBoot?: () => void;
}

const nothing = async () => undefined;

/** Whether an API answers `GET /healthz` within a second. */
async function healthy(apiUrl: string): Promise<boolean> {
  try {
    const res = await fetch(new URL("/healthz", apiUrl), { signal: AbortSignal.timeout(1000) });
    await res.body?.cancel();
    return res.ok;
  } catch {
    return false;
  }
}

/** `{apiUrl, apiKey}` of a stack `npm start` left running, if its file exists and the API answers. */
async function runningLocalStack(dataDir: string): Promise<{ apiUrl: string; apiKey: string } | undefined> {
  let info: { apiUrl?: unknown; apiKey?: unknown };
  try {
    info = JSON.parse(await readFile(join(dataDir, "local-stack.json"), "utf8")) as typeof info;
  } catch {
    return undefined;
  }
  if (typeof info.apiUrl !== "string" || typeof info.apiKey !== "string") return undefined;
  return (await healthy(info.apiUrl)) ? { apiUrl: info.apiUrl, apiKey: info.apiKey } : undefined;
}

/** Node prints the AWS SDK's "upgrade Node" notice when the embedded stack loads it; keep stderr for our errors. */
function quietSdkNotice(): void {
  const listeners = process.listeners("warning");
  process.removeAllListeners("warning");
  process.on("warning", (w) => {
    if (!w.message.startsWith("NodeVersionSupportWarning")) listeners.forEach((l) => l(w));
  });
}

/**
 * 1. `--api` / TROUPE_API_URL with its key;
 * 2. else a local stack that `npm start` runs (found through `<dataDir>/local-stack.json`);
 * 3. else the embedded local stack, booted quietly for this run and stopped by `close()`.
 */
export async function resolveTarget(options: ResolveTargetOptions): Promise<Target> {
  if (options.api && options.apiKey) return { apiUrl: options.api, apiKey: options.apiKey, source: "flags", close: nothing };

  const dataDir = resolve(options.dataDir);
  const running = await runningLocalStack(dataDir);
  if (running) return { ...running, source: "local-stack", close: nothing };

  options.onBoot?.();
  quietSdkNotice();
  // Loaded only here: the stack pulls in the emulators and the AWS SDK, which a remote run never needs.
  const { startLocalStack } = await import("../local/stack.ts");
  const stack = await startLocalStack({
    dataDir,
    port: 0,
    runners: 1,
    // Progress is written at most once per interval; a short one makes the bar move on a fast model.
    env: { ...process.env, TROUPE_PROGRESS_INTERVAL_MS: process.env.TROUPE_PROGRESS_INTERVAL_MS ?? "100" },
    log: () => undefined,
  });
  return { apiUrl: stack.apiUrl, apiKey: stack.apiKey, source: "embedded", close: () => stack.stop() };
}
