/**
 * Two checkouts of Troupe side by side, requests interleaved: `npx tsx bench/api/compare.ts <other-checkout>`
 * (for issue 13: a clone of the code before it, with this folder and bench/api.ts copied in).
 *
 * On a shared 2-core VM the machine's speed drifts by tens of percent between runs a minute apart, so
 * two bench runs one after the other compare the machine as much as the code. Here each checkout runs
 * its own API server and emulators (`serve.ts`, in its own processes) at the same time, and one client
 * sends the same request to A, then B, one at a time, in blocks of `--block` (25) requests, A, B, B, A, …:
 * both see the same machine minute by minute (alternating every request instead evicts each side's
 * caches for the other and slows both). Prints p50/p99 per side and their ratios for a 1-subject submission, a poll and a bare route,
 * and each server's CPU per request (its own process, load generator excluded).
 */
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const { values, positionals } = parseArgs({ allowPositionals: true, options: { requests: { type: "string", default: "400" }, warmup: { type: "string", default: "300" }, block: { type: "string", default: "25" } } });
if (positionals.length !== 1) {
  console.error("usage: npx tsx bench/api/compare.ts <other-checkout> [--requests N] [--warmup N]");
  process.exit(2);
}

interface Side {
  name: string;
  child: ChildProcessWithoutNullStreams;
  url: string;
  headers: Record<string, string>;
  body: string;
  jobId: string;
  cpu: () => Promise<number>;
}

async function startSide(name: string, root: string): Promise<Side> {
  const child = spawn(process.execPath, ["--import", "tsx", "bench/api/serve.ts"], { cwd: root, stdio: "pipe" });
  child.stderr.resume();
  const lines = createInterface({ input: child.stdout });
  const waiting: ((line: string) => void)[] = [];
  lines.on("line", (line) => waiting.shift()?.(line));
  const next = () => new Promise<string>((ok) => waiting.push(ok));
  const ready = JSON.parse(await next()) as Omit<Side, "name" | "child" | "cpu">;
  const cpu = async () => {
    const answer = next();
    child.stdin.write("cpu\n");
    return (JSON.parse(await answer) as { cpuMs: number }).cpuMs;
  };
  return { name, child, cpu, ...ready };
}

const sides = await Promise.all([startSide("this", fileURLToPath(new URL("../..", import.meta.url))), startSide("other", resolve(positionals[0]))]);
const kinds = {
  submit: (s: Side) => fetch(`${s.url}/v1/generations`, { method: "POST", headers: s.headers, body: s.body }),
  poll: (s: Side) => fetch(`${s.url}/v1/generations/${s.jobId}`, { headers: s.headers }),
  bare: (s: Side) => fetch(`${s.url}/bench/bare`, { headers: s.headers }),
};
const percentile = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * (xs.length - 1)))];
const fmt = (x: number) => x.toFixed(2);
try {
  for (const [kind, send] of Object.entries(kinds)) {
    const latencies = sides.map(() => [] as number[]);
    const cpu = sides.map(() => 0);
    const [warmup, requests, block] = [Number(values.warmup), Number(values.requests), Number(values.block)];
    const run = async (j: number, n: number, measured: boolean) => {
      for (let i = 0; i < n; i++) {
        const t0 = performance.now();
        const res = await send(sides[j]);
        await res.arrayBuffer();
        if (measured) latencies[j].push(performance.now() - t0);
      }
    };
    for (const j of [0, 1]) await run(j, warmup, false);
    for (const j of [0, 1]) cpu[j] = -(await sides[j].cpu());
    // A, B, B, A, A, B, …: neither side always goes first.
    for (let done = 0, k = 0; done < requests; done += block, k++) {
      for (const j of k % 2 ? [1, 0] : [0, 1]) await run(j, Math.min(block, requests - done), true);
    }
    for (const [j, s] of sides.entries()) cpu[j] = (cpu[j] + (await s.cpu())) / Number(values.requests);
    const [a, b] = latencies;
    console.log(
      `${kind.padEnd(6)} p50 ${fmt(percentile(a, 0.5))} vs ${fmt(percentile(b, 0.5))} ms (×${(percentile(a, 0.5) / percentile(b, 0.5)).toFixed(2)}), ` +
        `p99 ${fmt(percentile(a, 0.99))} vs ${fmt(percentile(b, 0.99))} ms; server CPU ${cpu[0].toFixed(3)} vs ${cpu[1].toFixed(3)} ms/request`,
    );
  }
} finally {
  await Promise.all(sides.map((s) => new Promise((ok) => (s.child.once("exit", ok), s.child.stdin.end()))));
}
