/**
 * Attention bench (part of `npm run bench:runner`; alone: `npx tsx bench/runner/attention-bench.ts`):
 * the sd15-sized UNet graph (seeded random weights, SD15_CONFIG) with every attention written out
 * (MatMul → Softmax → MatMul, `fusedAttention: false`, the graph before issue 10) against the fused graph
 * (com.microsoft.MultiHeadAttention), both on the CPU provider at 512², batch 2 (one image with its CFG
 * half): seconds per UNet call and peak RSS. Each measurement runs in its own child process so each peak
 * is its own (VmHWM from /proc/self/status, reset after session creation to separate the weights from
 * what a call adds); the variants alternate over `rounds` so both see the same machine, and the table
 * gives the median and the minimum over all timed calls (the minimum is the figure least disturbed by
 * other work on a shared machine). Then one fused call at 1024², where the explicit graph's
 * [2, 8, 16384, 16384] scores (17 GB each) cannot fit a 24 GB machine. Both graphs (≈ 3.4 GB of weights
 * each) are built into a temp folder and removed afterwards.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import * as ort from "onnxruntime-node";
import { GraphBuilder } from "../../gpu-runner/src/graph/builder.ts";
import { SD15_CONFIG } from "../../gpu-runner/src/graph/configs/sd15.ts";
import { buildUNet } from "../../gpu-runner/src/graph/models/unet.ts";
import { seededRandom } from "../../gpu-runner/src/graph/weights.ts";
import { median, round } from "./stats.ts";

export type AttentionVariant = "explicit" | "fused";

/** One child process: one session, a warm-up call, then the timed calls. */
export interface AttentionRun {
  variant: AttentionVariant;
  size: number;
  batch: number;
  /** Seconds of each timed call. */
  times: number[];
  /** Session creation (load + graph optimization). */
  loadSeconds: number;
  /** VmHWM of the whole child process: weights, session and the calls. */
  peakRssMb: number;
  /** RSS once the session is created (the weights, mostly). */
  loadedRssMb: number;
  /** Peak during the calls above the loaded RSS: what the calls themselves need. */
  callPeakAboveLoadMb: number;
}

/** The runs of one variant and size together. */
export interface AttentionRow {
  variant: AttentionVariant;
  size: number;
  batch: number;
  processes: number;
  calls: number;
  medianSecondsPerCall: number;
  minSecondsPerCall: number;
  peakRssMb: number;
  loadedRssMb: number;
  callPeakAboveLoadMb: number;
  loadSeconds: number;
}

export interface AttentionBenchResult {
  threads: number;
  rows: AttentionRow[];
  /** explicit / fused at the comparison size: median and minimum seconds per call, peak RSS, call peak. */
  speedupMedian: number;
  speedupMin: number;
  peakRssRatio: number;
  callPeakRatio: number;
  buildSeconds: Record<AttentionVariant, number>;
}

interface ChildArgs {
  model: string;
  variant: AttentionVariant;
  size: number;
  calls: number;
  threads: number;
}

const CHILD_FLAG = "--attention-child";

/** kB values of /proc/self/status (VmRSS, VmHWM); undefined off Linux. */
function procStatus(): Record<string, number> | undefined {
  try {
    const text = readFileSync("/proc/self/status", "utf8");
    return Object.fromEntries([...text.matchAll(/^(Vm\w+):\s+(\d+) kB$/gm)].map((m) => [m[1], Number(m[2])]));
  } catch {
    return undefined;
  }
}

/** Resets VmHWM to the current RSS (Linux ≥ 4.0); false where it cannot. */
function resetPeak(): boolean {
  try {
    writeFileSync("/proc/self/clear_refs", "5");
    return true;
  } catch {
    return false;
  }
}

const mb = (kb: number) => round(kb / 1024, 0);

/** In the child: one session, one warm-up call, `calls` timed calls, then the memory figures. */
async function child(args: ChildArgs): Promise<AttentionRun> {
  const { size, threads } = args;
  const batch = 2;
  const h = size / 8;
  const w = size / 8;
  const L = SD15_CONFIG.text.maxLength;
  const D = SD15_CONFIG.hiddenSize;
  const t0 = performance.now();
  const session = await ort.InferenceSession.create(args.model, { graphOptimizationLevel: "all", intraOpNumThreads: threads, interOpNumThreads: 1 });
  const loadSeconds = (performance.now() - t0) / 1000;
  const loaded = procStatus();
  const loadedRss = loaded?.VmRSS ?? 0;
  const loadPeak = loaded?.VmHWM ?? 0; // the reset below clears it
  const reset = resetPeak();

  const random = (n: number, seed: number) => {
    let s = seed;
    return Float32Array.from({ length: n }, () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32) * 2 - 1);
  };
  // the conditional half with a box: token 5 only in the left half of the latent, as a real job sends
  const bias = new Float32Array(batch * L * h * w);
  for (let y = 0; y < h; y++) for (let x = w / 2; x < w; x++) bias[((1 * L + 5) * h + y) * w + x] = -10000;
  const feeds = {
    sample: new ort.Tensor("float32", random(batch * 4 * h * w, 1), [batch, 4, h, w]),
    timestep: new ort.Tensor("float32", Float32Array.from([500, 500]), [batch]),
    encoder_hidden_states: new ort.Tensor("float32", random(batch * L * D, 2), [batch, L, D]),
    cross_attention_bias: new ort.Tensor("float32", bias, [batch, L, h, w]),
  };
  const times: number[] = [];
  // calls 0: a single call, timed cold (the 1024² run, where one call takes minutes)
  for (let i = 0; i <= args.calls; i++) {
    const start = performance.now();
    await session.run(feeds);
    if (i > 0 || args.calls === 0) times.push(round((performance.now() - start) / 1000, 2));
  }
  await session.release();
  const hwm = procStatus()?.VmHWM ?? process.resourceUsage().maxRSS;
  return {
    variant: args.variant,
    size,
    batch,
    times,
    loadSeconds: round(loadSeconds, 1),
    // after the reset VmHWM is the calls' peak; the whole process's is the larger of it and the load's
    peakRssMb: mb(Math.max(hwm, loadPeak)),
    loadedRssMb: mb(loadedRss),
    callPeakAboveLoadMb: reset ? mb(Math.max(0, hwm - loadedRss)) : NaN,
  };
}

/** Runs one measurement in a fresh Node process (same loader flags as this one) and reads its JSON line. */
function inChild(args: ChildArgs): Promise<AttentionRun> {
  const self = fileURLToPath(import.meta.url);
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [...process.execArgv, self, CHILD_FLAG, JSON.stringify(args)], { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    proc.stdout.on("data", (d: Buffer) => (out += d.toString()));
    proc.on("error", reject);
    proc.on("close", (code, signal) => {
      const line = out.split("\n").find((l) => l.startsWith("{"));
      if (code === 0 && line) resolve(JSON.parse(line) as AttentionRun);
      else reject(new Error(`attention bench child (${args.variant} ${args.size}²) exited with ${code ?? signal}: ${out.slice(-500)}`));
    });
  });
}

/** The sd15-sized UNet with seeded random weights, its large tensors in `<file>.data`. */
function writeUNet(dir: string, variant: AttentionVariant): { path: string; seconds: number } {
  const t0 = performance.now();
  const path = join(dir, `unet-${variant}.onnx`);
  const g = new GraphBuilder("unet", { weights: seededRandom(15), externalDataPath: `${path}.data` });
  buildUNet(g, SD15_CONFIG, { fusedAttention: variant === "fused" });
  writeFileSync(path, g.toBytes());
  return { path, seconds: round((performance.now() - t0) / 1000, 1) };
}

function row(runs: AttentionRun[]): AttentionRow {
  const times = runs.flatMap((r) => r.times);
  const max = (f: (r: AttentionRun) => number) => Math.max(...runs.map(f));
  return {
    variant: runs[0].variant,
    size: runs[0].size,
    batch: runs[0].batch,
    processes: runs.length,
    calls: times.length,
    medianSecondsPerCall: round(median(times), 2),
    minSecondsPerCall: round(Math.min(...times), 2),
    peakRssMb: max((r) => r.peakRssMb),
    loadedRssMb: max((r) => r.loadedRssMb),
    callPeakAboveLoadMb: max((r) => r.callPeakAboveLoadMb),
    loadSeconds: round(median(runs.map((r) => r.loadSeconds)), 1),
  };
}

export async function benchAttention(options: { size?: number; rounds?: number; calls?: number; largeSize?: number | null; threads?: number } = {}): Promise<AttentionBenchResult> {
  const size = options.size ?? 512;
  const rounds = options.rounds ?? 2;
  const calls = options.calls ?? 2;
  const largeSize = options.largeSize === undefined ? 1024 : options.largeSize;
  const threads = options.threads ?? cpus().length;
  const variants = ["explicit", "fused"] as const;
  const dir = mkdtempSync(join(tmpdir(), "attention-bench-"));
  try {
    const paths = {} as Record<AttentionVariant, string>;
    const buildSeconds = {} as Record<AttentionVariant, number>;
    for (const variant of variants) {
      process.stdout.write(`attention bench: building the sd15-sized UNet (${variant} attention, random weights)…\n`);
      ({ path: paths[variant], seconds: buildSeconds[variant] } = writeUNet(dir, variant));
    }
    const runs: Record<AttentionVariant, AttentionRun[]> = { explicit: [], fused: [] };
    for (let r = 0; r < rounds; r++) {
      for (const variant of r % 2 === 0 ? variants : [...variants].reverse()) {
        process.stdout.write(`attention bench: round ${r + 1}/${rounds}, ${variant} UNet at ${size}², batch 2, warm-up + ${calls} calls…\n`);
        runs[variant].push(await inChild({ model: paths[variant], variant, size, calls, threads }));
      }
    }
    rmSync(paths.explicit, { force: true });
    rmSync(`${paths.explicit}.data`, { force: true });
    const rows = variants.map((v) => row(runs[v]));
    if (largeSize) {
      process.stdout.write(`attention bench: fused UNet at ${largeSize}², batch 2, one cold call…\n`);
      rows.push(row([await inChild({ model: paths.fused, variant: "fused", size: largeSize, calls: 0, threads })]));
    }
    const [explicit, fused] = rows;
    return {
      threads,
      rows,
      speedupMedian: round(explicit.medianSecondsPerCall / fused.medianSecondsPerCall, 2),
      speedupMin: round(explicit.minSecondsPerCall / fused.minSecondsPerCall, 2),
      peakRssRatio: round(explicit.peakRssMb / fused.peakRssMb, 2),
      callPeakRatio: round(explicit.callPeakAboveLoadMb / Math.max(1, fused.callPeakAboveLoadMb), 2),
      buildSeconds,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function printAttentionBench(r: AttentionBenchResult): void {
  console.log(`\nAttention: explicit MatMul→Softmax→MatMul vs fused MultiHeadAttention, sd15-sized UNet, CPU, ${r.threads} threads, batch 2`);
  console.table(
    r.rows.map((x) => ({
      attention: x.variant,
      size: `${x.size}²`,
      "processes × calls": `${x.processes} × ${x.calls / x.processes}`,
      "median s/call": x.medianSecondsPerCall,
      "min s/call": x.minSecondsPerCall,
      "peak RSS MB": x.peakRssMb,
      "RSS after load MB": x.loadedRssMb,
      "call peak above load MB": x.callPeakAboveLoadMb,
      "load s": x.loadSeconds,
    })),
  );
  console.log(`explicit / fused: ${r.speedupMedian}× median (${r.speedupMin}× min) time per call, ${r.peakRssRatio}× peak RSS, ${r.callPeakRatio}× call peak above load`);
}

const isMain = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (isMain && process.argv[2] === CHILD_FLAG) {
  const result = await child(JSON.parse(process.argv[3]) as ChildArgs);
  process.stdout.write(`${JSON.stringify(result)}\n`);
} else if (isMain) {
  const flag = (name: string) => {
    const i = process.argv.indexOf(name);
    return i > 0 ? process.argv[i + 1] : undefined;
  };
  const large = flag("--large");
  const result = await benchAttention({
    size: Number(flag("--size") ?? 512),
    rounds: Number(flag("--rounds") ?? 2),
    calls: Number(flag("--calls") ?? 2),
    largeSize: large === "none" ? null : Number(large ?? 1024),
  });
  printAttentionBench(result);
  const report = { date: new Date().toISOString(), machine: { cpus: cpus().length, model: cpus()[0]?.model, node: process.version }, ...result };
  writeFileSync(fileURLToPath(new URL("../attention.json", import.meta.url)), `${JSON.stringify(report, null, 2)}\n`);
  console.log("wrote bench/attention.json");
}
