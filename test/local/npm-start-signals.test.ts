import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { waitFor } from "../support/wait-for.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

/** One process as /proc shows it; `start` (clock ticks since boot) tells a reused pid apart. */
interface Proc {
  pid: number;
  ppid: number;
  start: string;
  state: string;
}

function readProc(pid: number): Proc | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // "pid (comm) state ppid …": comm may hold spaces and parentheses, so split after the last ")".
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return { pid, state: fields[0], ppid: Number(fields[1]), start: fields[19] };
  } catch {
    return undefined;
  }
}

/** Every process below `root`, now. */
function descendants(root: number): Proc[] {
  const all = readdirSync("/proc").filter((d) => /^\d+$/.test(d)).map((d) => readProc(Number(d))).filter((p): p is Proc => p !== undefined);
  const found: Proc[] = [];
  const parents = [root];
  while (parents.length > 0) {
    const parent = parents.pop()!;
    for (const p of all.filter((q) => q.ppid === parent)) {
      found.push(p);
      parents.push(p.pid);
    }
  }
  return found;
}

const cmdline = (pid: number) => {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ");
  } catch {
    return "";
  }
};

/** Still running: the same process (same start time) and not a zombie waiting to be reaped. */
const alive = (p: Proc) => {
  const now = readProc(p.pid);
  return now !== undefined && now.start === p.start && now.state !== "Z";
};

const refused = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = connect({ host: "127.0.0.1", port });
    socket.once("connect", () => (socket.destroy(), resolve(false)));
    socket.once("error", () => resolve(true));
  });

const exited = (child: ChildProcess) =>
  new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve({ code: child.exitCode, signal: child.signalCode });
    else child.once("exit", (code, signal) => resolve({ code, signal }));
  });

/**
 * `npm start` on a free port and a temp data folder, stopped with `signal` sent to the npm process only
 * (as Docker, systemd or an IDE does, unlike Ctrl-C, which signals the whole process group).
 */
async function startAndStop(signal: NodeJS.Signals) {
  const dataDir = mkdtempSync(join(tmpdir(), "troupe-npm-start-"));
  const env = { ...process.env, PORT: "0", TROUPE_DATA_DIR: dataDir, RUNNERS: "1", TROUPE_WAIT_TIME_S: "1", TROUPE_INTRA_OP_THREADS: "1" };
  const npm = spawn("npm", ["start"], { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"], detached: true });
  let output = "";
  npm.stdout!.on("data", (c: Buffer) => (output += c.toString()));
  npm.stderr!.on("data", (c: Buffer) => (output += c.toString()));
  const npmExit = exited(npm);
  try {
    // Ready: the state file is written and the runner has loaded its bundle (its signal handlers are set).
    const info = await waitFor(
      () => {
        if (npm.exitCode !== null) throw new Error(`npm start exited early:\n${output}`);
        if (!/\[runner-0\].*worker_ready/.test(output)) return undefined;
        return JSON.parse(readFileSync(join(dataDir, "local-stack.json"), "utf8")) as { apiUrl: string; endpoints: Record<string, string> };
      },
      { timeoutMs: 90_000, what: "npm start to be ready" },
    );
    const before = descendants(npm.pid!);
    expect(before.some((p) => cmdline(p.pid).includes("local/main.ts"))).toBe(true);
    expect(before.some((p) => cmdline(p.pid).includes("gpu-runner/src/worker/main.ts"))).toBe(true);
    const ports = [info.apiUrl, ...Object.values(info.endpoints)].map((u) => Number(new URL(u).port));
    for (const port of ports) expect(await refused(port)).toBe(false);

    npm.kill(signal);
    await npmExit;
    const survivors = await waitFor(() => (before.every((p) => !alive(p)) ? [] : undefined), { timeoutMs: 30_000, what: "every child of npm start to exit" }).catch(() =>
      before.filter(alive).map((p) => `${p.pid} ${cmdline(p.pid)}`),
    );
    expect(survivors, output).toEqual([]);
    for (const port of ports) expect(await refused(port), `port ${port} still open`).toBe(true);
    return output;
  } finally {
    // Whatever happened, nothing of this run is left behind (the process group: npm and all below it).
    if (npm.exitCode === null && npm.signalCode === null) process.kill(-npm.pid!, "SIGKILL");
    for (const p of descendants(npm.pid!)) process.kill(p.pid, "SIGKILL");
    rmSync(dataDir, { recursive: true, force: true });
  }
}

describe("npm start", () => {
  it.concurrent("stops every child and frees every port when npm gets SIGTERM", async () => {
    const output = await startAndStop("SIGTERM");
    expect(output).toContain("Stopping…");
  });

  it.concurrent("does the same on SIGHUP, which npm does not relay (the stack notices npm is gone)", async () => {
    const output = await startAndStop("SIGHUP");
    expect(output).toContain("Stopping…");
  });
});
