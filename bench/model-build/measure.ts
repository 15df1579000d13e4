import { spawn } from "node:child_process";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * Runs a command as a child process and measures it: wall seconds, and peak RSS from the kernel
 * (`/usr/bin/time -v`'s "Maximum resident set size", i.e. the child's ru_maxrss). While it runs,
 * /proc/<pid>/status is sampled every 100 ms so the peak can be attributed: the peak of anonymous
 * memory (RssAnon: the heap, ORT's arenas) against file-backed pages (RssFile: mapped files), and the
 * peak before and after `phaseFile` appears (the converter writes manifest.json last, then verifies).
 */

export interface Measured {
  code: number | null;
  seconds: number;
  /** ru_maxrss of the child, bytes (null without /usr/bin/time). */
  peakRss: number | null;
  /** Sampled maxima, bytes. */
  sampled: { rss: number; anon: number; file: number; hwm: number };
  /** Sampled peak RSS before `phaseFile` existed and after (null when it never appeared), and when it appeared. */
  phases: { before: number; after: number | null; switchedAt: number | null };
  /** The last lines of its output. */
  tail: string;
}

const TIME = "/usr/bin/time";

function status(pid: number): Record<string, number> | undefined {
  try {
    const out: Record<string, number> = {};
    for (const line of readFileSync(`/proc/${pid}/status`, "utf8").split("\n")) {
      const m = /^(VmRSS|VmHWM|RssAnon|RssFile|RssShmem):\s+(\d+) kB/.exec(line);
      if (m) out[m[1]] = Number(m[2]) * 1024;
    }
    return out;
  } catch {
    return undefined;
  }
}

/** The child /usr/bin/time started (its only child). */
function childOf(pid: number): number | undefined {
  try {
    const list = readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean);
    return list.length ? Number(list[0]) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * `phaseFile(pid)`: a path whose appearance marks the second phase (the measured process's own pid, since
 * the converter names its temp folder after it).
 */
export function measure(command: string, args: string[], options: { cwd: string; phaseFile?: (pid: number) => string; echo?: boolean }): Promise<Measured> {
  const useTime = existsSync(TIME);
  const timeOut = join(tmpdir(), `bench-time-${process.pid}-${Date.now()}.txt`);
  const argv = useTime ? ["-v", "-o", timeOut, command, ...args] : args;
  const started = performance.now();
  const child = spawn(useTime ? TIME : command, argv, { cwd: options.cwd, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString("utf8")).slice(-20_000);
    if (options.echo) process.stdout.write(chunk);
  };
  child.stdout.on("data", keep);
  child.stderr.on("data", keep);

  const sampled = { rss: 0, anon: 0, file: 0, hwm: 0 };
  const phases: Measured["phases"] = { before: 0, after: null, switchedAt: null };
  let target: number | undefined;
  let marker: string | undefined;
  const timer = setInterval(() => {
    target ??= useTime ? childOf(child.pid!) : child.pid;
    if (target === undefined) return;
    const s = status(target);
    if (!s) return;
    marker ??= options.phaseFile?.(target);
    if (marker && phases.switchedAt === null && existsSync(marker)) phases.switchedAt = (performance.now() - started) / 1000;
    sampled.rss = Math.max(sampled.rss, s.VmRSS ?? 0);
    sampled.anon = Math.max(sampled.anon, s.RssAnon ?? 0);
    sampled.file = Math.max(sampled.file, s.RssFile ?? 0);
    sampled.hwm = Math.max(sampled.hwm, s.VmHWM ?? 0);
    if (phases.switchedAt === null) phases.before = Math.max(phases.before, s.VmRSS ?? 0);
    else phases.after = Math.max(phases.after ?? 0, s.VmRSS ?? 0);
  }, 100);

  return new Promise((resolve, reject) => {
    child.on("error", (e) => {
      clearInterval(timer);
      reject(e);
    });
    child.on("close", (code) => {
      clearInterval(timer);
      const seconds = (performance.now() - started) / 1000;
      let peakRss: number | null = null;
      if (useTime && existsSync(timeOut)) {
        const text = readFileSync(timeOut, "utf8");
        const m = /Maximum resident set size \(kbytes\): (\d+)/.exec(text);
        if (m) peakRss = Number(m[1]) * 1024;
        rmSync(timeOut, { force: true });
      }
      resolve({ code, seconds, peakRss: peakRss ?? sampled.hwm, sampled, phases, tail: output.split("\n").slice(-25).join("\n") });
    });
  });
}
