/**
 * GPU probe (`bash bench/gpu-probe.sh`; see the header there for the device invocation). This program is
 * bundled by `bench/gpu-probe/prepare.sh` into `.probe/probe.mjs` (esbuild: the graph builder, onnx-proto and
 * protobufjs inside; onnxruntime-node outside, unpacked beside it from `.probe/ort-runtime.tar.xz`) and run by
 * the carried Node binary, so the GPU machine needs neither Node.js nor the repository's node_modules.
 *
 * The parent process never loads onnxruntime itself: every step that does runs in a child process of this
 * same file (`--child <kind> <json args>`), so a native crash (Dawn, a driver) or a hang costs that step,
 * not the report, and the parent can kill a child at the time budget. Steps:
 * 1. builds, in parallel children: the SD 1.5-sized UNet (859.5 M parameters, seeded random weights, fused
 *    attention as the runner's bundles have it) with float32 weights, and with float16 weights, written as
 *    two graphs over one `.data` file: fp16 storage (a Cast after each weight: float32 compute) and, through
 *    `gpu-runner/src/graph/fp16-compute.ts`, fp16 compute (Conv / MatMul / attention read fp16);
 * 2. meanwhile, checks: onnxruntime loads (`listSupportedBackends`), and a tiny graph on each GPU execution
 *    provider (webgpu, cuda), keeping the exact error when one cannot start;
 * 3. on each GPU provider that started: per variant (fp32, fp16-compute, fp16-storage) a session at 512² with
 *    batch 2 (one image and its guidance half), one warm-up step, then timed steps; the node placement per
 *    provider from ORT's verbose session log; then, time allowing, the same fp32 step on the CPU provider to
 *    compare outputs;
 * 4. with no GPU provider: the CPU provider at a smaller size (256², batch 2, one timed step after the warm-up)
 *    per variant, so the plumbing is proven.
 * It writes one JSON report (`GPU_PROBE_RESULT`), which the shell script prints as its last line.
 *
 * Environment (all optional; the shell script sets the first four): GPU_PROBE_RESULT (report path),
 * GPU_PROBE_WORK (scratch folder for the graphs), GPU_PROBE_DEADLINE_MS (epoch ms by which the report must be
 * written), GPU_PROBE_FACTS (tab-separated `key value` lines the shell gathered), GPU_PROBE_FORCE_CPU=1 (skip the
 * GPU providers), GPU_PROBE_STEPS (timed steps on a GPU, default 3), GPU_PROBE_SIZE (default 512),
 * GPU_PROBE_CPU_SIZE (default 256), GPU_PROBE_BATCH (default 2), GPU_PROBE_VARIANTS (comma list of fp32,
 * fp16c, fp16; default all three), GPU_PROBE_EPS (the providers tried as GPU ones, default webgpu,cuda; `cpu`
 * walks the GPU path on a machine without one, to test it).
 */
import { spawn } from "node:child_process";
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import onnxProto from "onnx-proto";
import { GraphBuilder } from "../../gpu-runner/src/graph/builder.ts";
import { SD15_CONFIG } from "../../gpu-runner/src/graph/configs/sd15.ts";
import { toFloat16Compute } from "../../gpu-runner/src/graph/fp16-compute.ts";
import { buildUNet } from "../../gpu-runner/src/graph/models/unet.ts";
import { seededRandom } from "../../gpu-runner/src/graph/weights.ts";

import onnx = onnxProto.onnx;

type Ep = "cpu" | "webgpu" | "cuda";
type VariantKey = "fp32" | "fp16c" | "fp16";

const VARIANTS: Record<VariantKey, { file: string; build: "fp32" | "fp16"; describe: string }> = {
  fp32: { file: "unet-fp32.onnx", build: "fp32", describe: "float32 weights, float32 compute" },
  fp16c: { file: "unet-fp16c.onnx", build: "fp16", describe: "float16 weights, float16 compute (gpu-runner/src/graph/fp16-compute.ts: Conv/MatMul/attention in fp16, GroupNorm statistics and the timestep embedding in float32)" },
  fp16: { file: "unet-fp16.onnx", build: "fp16", describe: "float16 weights, float32 compute (fp16 storage: a Cast after each weight, folded by ORT at session creation)" },
};

const SELF = fileURLToPath(import.meta.url);
const t0 = Date.now();
const elapsed = () => ((Date.now() - t0) / 1000).toFixed(1);
const round = (x: number, digits = 3) => Math.round(x * 10 ** digits) / 10 ** digits;
const envInt = (name: string, fallback: number) => {
  const v = Number.parseInt(process.env[name] ?? "", 10);
  return Number.isFinite(v) && v > 0 ? v : fallback;
};
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const errorText = (e: unknown) => (e instanceof Error ? e.message : String(e)).trim();

// ---- children ---------------------------------------------------------------------------------------------

/** A child writes JSON lines on stdout: `{"progress": …}` while it works, `{"result": …}` last. */
const say = (obj: object) => process.stdout.write(`${JSON.stringify(obj)}\n`);

async function childBuild(args: { precision: "fp32" | "fp16"; dir: string }): Promise<object> {
  const start = Date.now();
  const base = args.precision === "fp32" ? "unet-fp32" : "unet-fp16";
  const g = new GraphBuilder("unet", { weights: seededRandom(15), externalDataPath: join(args.dir, `${base}.onnx.data`), precision: args.precision });
  buildUNet(g, SD15_CONFIG);
  say({ progress: `graph built in ${((Date.now() - start) / 1000).toFixed(1)} s, encoding` });
  const model = g.toModel();
  const files: Record<string, number> = {};
  const write = (file: string, m: onnx.IModelProto) => {
    const bytes = onnx.ModelProto.encode(m).finish();
    writeFileSync(join(args.dir, file), bytes);
    files[file] = bytes.byteLength;
  };
  write(`${base}.onnx`, model);
  let fp16ComputeError: string | undefined;
  if (args.precision === "fp16") {
    try {
      write("unet-fp16c.onnx", toFloat16Compute(model));
    } catch (e) {
      fp16ComputeError = errorText(e);
    }
  }
  files[`${base}.onnx.data`] = statSync(join(args.dir, `${base}.onnx.data`)).size;
  const nodes = model.graph?.node?.length ?? 0;
  const ops: Record<string, number> = {};
  for (const n of model.graph?.node ?? []) ops[`${n.domain ? `${n.domain}.` : ""}${n.opType}`] = (ops[`${n.domain ? `${n.domain}.` : ""}${n.opType}`] ?? 0) + 1;
  return { seconds: round((Date.now() - start) / 1000, 1), files, nodes, heavyOps: pick(ops, ["Conv", "MatMul", "com.microsoft.MultiHeadAttention", "Softmax", "InstanceNormalization", "LayerNormalization"]), fp16ComputeError };
}

function pick(obj: Record<string, number>, keys: string[]): Record<string, number> {
  return Object.fromEntries(keys.filter((k) => obj[k] !== undefined).map((k) => [k, obj[k]]));
}

/** ORT loads; a tiny graph (Conv → Relu → MatMul) runs on `ep` and matches the expected numbers. */
async function childCheck(args: { ep: Ep }): Promise<object> {
  const ort = await import("onnxruntime-node");
  const backends = ort.listSupportedBackends();
  const g = new GraphBuilder("check");
  const x = g.input("x", "float32", [1, 2, 4, 4]);
  const w = g.floats(Array.from({ length: 2 * 2 * 3 * 3 }, (_, i) => ((i % 5) - 2) / 4), [2, 2, 3, 3], "w");
  const conv = g.op("Conv", [x, w], { pads: [1, 1, 1, 1] });
  const flat = g.op("Reshape", [g.op("Relu", [conv]), g.ints([2, 16])]);
  const m = g.floats(Array.from({ length: 16 * 3 }, (_, i) => ((i % 7) - 3) / 8), [16, 3], "m");
  g.output(g.op("MatMul", [flat, m]), "y", "float32", [2, 3]);
  const bytes = g.toBytes();
  const feeds = { x: new ort.Tensor("float32", Float32Array.from({ length: 32 }, (_, i) => Math.sin(i)), [1, 2, 4, 4]) };
  const start = Date.now();
  let session: Awaited<ReturnType<typeof ort.InferenceSession.create>>;
  try {
    session = await ort.InferenceSession.create(bytes, { executionProviders: [args.ep], logSeverityLevel: 0 });
  } catch (e) {
    return { ok: false, stage: "session", error: errorText(e), seconds: round((Date.now() - start) / 1000), backends };
  }
  const createS = round((Date.now() - start) / 1000);
  const out = (await session.run(feeds)).y.data as Float32Array;
  let maxDiff = 0;
  if (args.ep !== "cpu") {
    const ref = await ort.InferenceSession.create(bytes, { executionProviders: ["cpu"] });
    const want = (await ref.run(feeds)).y.data as Float32Array;
    maxDiff = Math.max(...Array.from(out, (v, i) => Math.abs(v - want[i])));
  }
  return { ok: maxDiff < 1e-3 && out.every(Number.isFinite), createS, maxDiffVsCpu: round(maxDiff, 6), backends, ortVersion: ort.env.versions?.common };
}

/** Deterministic N(0,1) input of the given shape (the same on every provider, for the output comparison). */
function randomInput(name: string, dims: number[]): Float32Array {
  return seededRandom(7).tensor(`input.${name}`, dims, "normal", 1);
}

async function childRun(args: { ep: Ep; graph: string; size: number; batch: number; steps: number; deadlineMs: number; save?: string }): Promise<object> {
  const ort = await import("onnxruntime-node");
  const start = Date.now();
  say({ progress: `creating the ${args.ep} session for ${args.graph}` });
  const session = await ort.InferenceSession.create(args.graph, { executionProviders: [args.ep], graphOptimizationLevel: "all", logSeverityLevel: 0 });
  const createS = (Date.now() - start) / 1000;
  say({ progress: `session created in ${createS.toFixed(1)} s`, partial: { createS: round(createS, 2) } });
  const B = args.batch;
  const l = args.size / 8;
  const D = SD15_CONFIG.hiddenSize;
  const L = SD15_CONFIG.text.maxLength;
  const all: Record<string, [Float32Array, number[]]> = {
    sample: [randomInput("sample", [B, 4, l, l]), [B, 4, l, l]],
    timestep: [Float32Array.from({ length: B }, () => 500), [B]],
    encoder_hidden_states: [randomInput("context", [B, L, D]), [B, L, D]],
    cross_attention_bias: [new Float32Array(B * L * l * l), [B, L, l, l]],
  };
  const feeds: Record<string, InstanceType<typeof ort.Tensor>> = {};
  for (const name of session.inputNames) {
    if (!all[name]) throw new Error(`the UNet has an input this probe does not know: ${name}`);
    feeds[name] = new ort.Tensor("float32", all[name][0], all[name][1]);
  }
  const step = async () => {
    const s = Date.now();
    const out = await session.run(feeds);
    return { seconds: (Date.now() - s) / 1000, out };
  };
  say({ progress: "warm-up step" });
  const first = await step();
  const noise = first.out.noise_pred.data as Float32Array;
  const finite = noise.every(Number.isFinite);
  const meanAbs = noise.reduce((a, v) => a + Math.abs(v), 0) / noise.length;
  if (args.save) writeFileSync(args.save, new Uint8Array(noise.buffer, noise.byteOffset, noise.byteLength));
  say({ partial: { firstStepS: round(first.seconds), output: { finite, meanAbs: round(meanAbs, 5) } } });
  const stepsS: number[] = [];
  for (let i = 0; i < args.steps; i++) {
    const last = stepsS.at(-1) ?? first.seconds;
    if (i > 0 && Date.now() + last * 1000 * 1.3 > args.deadlineMs) break;
    say({ progress: `timed step ${i + 1}/${args.steps}` });
    stepsS.push((await step()).seconds);
    say({ partial: { stepsS: stepsS.map((x) => round(x)) } });
  }
  return {
    ok: finite && stepsS.length > 0,
    createS: round(createS, 2),
    firstStepS: round(first.seconds),
    stepsS: stepsS.map((s) => round(s)),
    secondsPerStep: stepsS.length ? round(median(stepsS)) : null,
    output: { finite, meanAbs: round(meanAbs, 5) },
  };
}

// ---- parent ------------------------------------------------------------------------------------------------

interface ChildOutcome {
  result?: Record<string, unknown>;
  /** What a child had reported before it failed or was killed (session time, first step, …). */
  partial: Record<string, unknown>;
  error?: string;
  progress?: string;
  code: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  seconds: number;
  logFile: string;
}

const work = process.env.GPU_PROBE_WORK ?? join(process.cwd(), ".probe-work");
const logDir = join(work, "logs");
const graphDir = join(work, "graphs");

/** Runs `--child kind args` of this file; kills it at `deadlineMs`. Its stderr (ORT, Dawn) goes to a log file. */
function child(kind: string, args: object, deadlineMs: number, label: string): Promise<ChildOutcome> {
  const logFile = join(logDir, `${label}.log`);
  const fd = openSync(logFile, "w");
  const start = Date.now();
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [SELF, "--child", kind, JSON.stringify(args)], { stdio: ["ignore", "pipe", fd] });
    const outcome: ChildOutcome = { partial: {}, code: null, signal: null, timedOut: false, seconds: 0, logFile };
    let buffer = "";
    p.stdout!.setEncoding("utf8");
    p.stdout!.on("data", (chunk: string) => {
      buffer += chunk;
      let nl: number;
      while ((nl = buffer.indexOf("\n")) >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        try {
          const msg = JSON.parse(line) as { progress?: string; partial?: Record<string, unknown>; result?: Record<string, unknown>; error?: string };
          if (msg.partial) Object.assign(outcome.partial, msg.partial);
          if (msg.progress) {
            outcome.progress = msg.progress;
            console.log(`[${elapsed()}s]   ${label}: ${msg.progress}`);
          }
          if (msg.result) outcome.result = msg.result;
          if (msg.error) outcome.error = msg.error;
        } catch {
          console.log(`[${elapsed()}s]   ${label}: ${line}`);
        }
      }
    });
    const timer = setTimeout(
      () => {
        outcome.timedOut = true;
        p.kill("SIGKILL");
      },
      Math.max(1000, deadlineMs - Date.now()),
    );
    p.on("close", (code, signal) => {
      clearTimeout(timer);
      closeSync(fd);
      Object.assign(outcome, { code, signal, seconds: round((Date.now() - start) / 1000, 1) });
      resolve(outcome);
    });
  });
}

/** The last `chars` of a log, without ORT's verbose lines (kept in the log file itself). */
function logTail(file: string, chars = 1500): string {
  if (!existsSync(file)) return "";
  const lines = readLog(file)
    .split("\n")
    .filter((l) => l.trim() && !/\[V:onnxruntime|\[I:onnxruntime/.test(l));
  const text = lines.join("\n");
  return text.length > chars ? `…${text.slice(-chars)}` : text;
}

/** Lines of a log that say which GPU / Vulkan driver / adapter was seen: Dawn's own warnings, and ORT's verbose lines about them. */
function adapterLines(file: string): string[] {
  if (!existsSync(file)) return [];
  return readLog(file)
    .split("\n")
    .filter((l) => l.trim() && (!/\[[VI]:onnxruntime/.test(l) || /adapter|vulkan|nvidia|dawn/i.test(l)) && !/placed on|Node\(s\)/.test(l))
    .map((l) => l.replace(/^\S+ \S+ \[[A-Z]:onnxruntime:[^\]]*\] /, "").trim().slice(0, 300))
    .slice(0, 16);
}

/** A log file without terminal colour codes. */
function readLog(file: string): string {
  // eslint-disable-next-line no-control-regex
  return readFileSync(file, "utf8").replace(/\u001b\[[0-9;]*m/g, "");
}

/** The informative end of an ORT error (the source location and assertion text dropped), one line. */
function shortReason(message: string): string {
  const m = /Failed to get a WebGPU adapter: .*|Failed to load library .*|Failed to load shared library.*|cannot open shared object file.*/.exec(message);
  return (m ? m[0] : message.split("\n")[0]).slice(0, 240);
}

/** max |a − b| and that over max |b|, for two saved float32 outputs. */
function compareOutputs(fileA: string, fileB: string): { maxAbsDiff: number; rel: number } | undefined {
  if (!existsSync(fileA) || !existsSync(fileB)) return undefined;
  const floats = (file: string) => {
    const buf = readFileSync(file);
    return new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
  };
  const a = floats(fileA);
  const b = floats(fileB);
  if (a.length !== b.length) return undefined;
  let maxAbs = 0;
  let maxRef = 0;
  for (let k = 0; k < a.length; k++) {
    maxAbs = Math.max(maxAbs, Math.abs(a[k] - b[k]));
    maxRef = Math.max(maxRef, Math.abs(b[k]));
  }
  return { maxAbsDiff: round(maxAbs, 6), rel: round(maxAbs / maxRef, 6) };
}

/** ORT's verbose "Node placements" block: nodes per provider, and the op types left to the CPU provider. */
function placements(file: string): { perProvider: Record<string, number>; cpuOps?: Record<string, number> } | undefined {
  if (!existsSync(file)) return undefined;
  const lines = readLog(file).split("\n");
  const perProvider: Record<string, number> = {};
  const cpuOps: Record<string, number> = {};
  let current: string | undefined;
  for (const line of lines) {
    const head = /placed on \[(\w+)\]\. Number of nodes: (\d+)/.exec(line);
    if (head) {
      current = head[1];
      perProvider[current] = Number(head[2]);
      continue;
    }
    const node = /VerifyEachNodeIsAssignedToAnEp\]\s{2,}(\S+) \(/.exec(line);
    if (node && current === "CPUExecutionProvider") cpuOps[node[1]] = (cpuOps[node[1]] ?? 0) + 1;
    else if (!node) current = line.includes("VerifyEachNodeIsAssignedToAnEp") ? current : undefined;
  }
  if (Object.keys(perProvider).length === 0) return undefined;
  return Object.keys(cpuOps).length && Object.keys(perProvider).length > 1 ? { perProvider, cpuOps } : { perProvider };
}

function readFacts(): Record<string, string> {
  const file = process.env.GPU_PROBE_FACTS;
  if (!file || !existsSync(file)) return {};
  const facts: Record<string, string> = {};
  for (const line of readFileSync(file, "utf8").split("\n")) {
    const tab = line.indexOf("\t");
    if (tab > 0) facts[line.slice(0, tab)] = line.slice(tab + 1).replace(/\\n/g, "\n");
  }
  return facts;
}

function describeFailure(o: ChildOutcome): string {
  if (o.error) return o.error;
  if (o.timedOut) return `did not finish within its time budget (${o.seconds} s; last progress: ${o.progress ?? "none"})`;
  const tail = logTail(o.logFile, 600);
  return `child exited with ${o.signal ? `signal ${o.signal}` : `code ${o.code}`}${tail ? `: ${tail}` : ""}`;
}

async function parent(): Promise<void> {
  const deadline = Number(process.env.GPU_PROBE_DEADLINE_MS) || Date.now() + 7 * 60_000;
  const resultPath = process.env.GPU_PROBE_RESULT ?? join(work, "result.json");
  mkdirSync(logDir, { recursive: true });
  mkdirSync(graphDir, { recursive: true });
  const forceCpu = process.env.GPU_PROBE_FORCE_CPU === "1";
  const gpuSize = envInt("GPU_PROBE_SIZE", 512);
  const cpuSize = envInt("GPU_PROBE_CPU_SIZE", 256);
  const batch = envInt("GPU_PROBE_BATCH", 2);
  const gpuSteps = envInt("GPU_PROBE_STEPS", 3);
  const wanted = (process.env.GPU_PROBE_VARIANTS ?? "fp32,fp16c,fp16").split(",").map((s) => s.trim()) as VariantKey[];
  const variantKeys = wanted.filter((k) => k in VARIANTS);
  const remaining = () => (deadline - Date.now()) / 1000;

  const report: Record<string, unknown> = {
    probe: "gpu-probe",
    date: new Date().toISOString(),
    mode: "failed",
    ok: false,
    summary: "",
    host: { cpus: cpus().length, cpuModel: cpus()[0]?.model, memGiB: round(totalmem() / 2 ** 30, 1), node: process.version, ...readFacts() },
  };
  const notes: string[] = [];
  const write = () => {
    report.elapsedS = round((Date.now() - t0) / 1000, 1);
    report.notes = notes;
    writeFileSync(resultPath, `${JSON.stringify(report)}\n`);
  };
  write();

  // 1. builds in the background (both needed on every path), 2. checks meanwhile
  const builds = new Map<"fp32" | "fp16", Promise<ChildOutcome>>();
  const neededBuilds = new Set(variantKeys.map((k) => VARIANTS[k].build));
  for (const precision of ["fp32", "fp16"] as const) {
    if (!neededBuilds.has(precision)) continue;
    console.log(`[${elapsed()}s] building the sd15-sized UNet, ${precision} weights (child process)`);
    builds.set(precision, child("build", { precision, dir: graphDir }, deadline - 60_000, `build-${precision}`));
  }

  console.log(`[${elapsed()}s] checking onnxruntime and the execution providers on a tiny graph`);
  const checks: Record<string, unknown> = {};
  const cpuCheck = await child("check", { ep: "cpu" }, Math.min(deadline, Date.now() + 90_000), "check-cpu");
  const { backends, ortVersion, ...cpuEntry } = cpuCheck.result ?? { ok: false, error: describeFailure(cpuCheck) };
  checks.cpu = cpuEntry;
  report.backends = backends;
  report.ortVersion = ortVersion;
  const gpuEps: Ep[] = [];
  // GPU_PROBE_EPS=cpu is for testing the GPU path's plumbing on a machine without one
  const candidates = (process.env.GPU_PROBE_EPS ?? "webgpu,cuda").split(",").filter((ep): ep is Ep => ["webgpu", "cuda", "cpu"].includes(ep));
  for (const ep of forceCpu ? [] : candidates) {
    const o = await child("check", { ep }, Math.min(deadline, Date.now() + 120_000), `check-${ep}`);
    const r = o.result ?? { ok: false, error: describeFailure(o) };
    const entry: Record<string, unknown> = { ...r };
    delete entry.backends;
    const lines = adapterLines(o.logFile);
    if (lines.length) entry.log = lines;
    if (!r.ok && !lines.length) entry.log = logTail(o.logFile, 800) || undefined;
    checks[ep] = entry;
    if (!r.ok) entry.reason = `${shortReason(String(r.error ?? "wrong numbers on the tiny graph"))}${lines.find((l) => /^Warning/.test(l)) ? ` (${lines.find((l) => /^Warning/.test(l))})` : ""}`;
    console.log(`[${elapsed()}s] ${ep}: ${r.ok ? "works" : `cannot run: ${String(entry.reason)}`}`);
    if (r.ok) gpuEps.push(ep);
  }
  if (forceCpu) notes.push("GPU_PROBE_FORCE_CPU=1: the GPU providers were not tried");
  report.providers = checks;
  write();

  const buildResults: Record<string, unknown> = {};
  for (const [precision, p] of builds) {
    const o = await p;
    buildResults[precision] = o.result ?? { ok: false, error: describeFailure(o) };
    console.log(`[${elapsed()}s] build ${precision}: ${o.result ? `${(o.result as { seconds: number }).seconds} s` : describeFailure(o)}`);
  }
  report.builds = buildResults;
  write();
  if (!cpuCheck.result?.ok) {
    report.summary = `onnxruntime-node does not load or run here: ${String((checks.cpu as { error?: string }).error ?? "")}`;
    write();
    return;
  }

  // 3./4. the runs
  const gpu = gpuEps.length > 0;
  report.mode = gpu ? "gpu" : "cpu-fallback";
  const runs: Record<string, unknown>[] = [];
  report.variants = runs;
  const plan: { ep: Ep; key: VariantKey; size: number; steps: number; save: string }[] = [];
  const noiseFile = (ep: Ep, key: VariantKey) => join(work, `noise-${ep}-${key}.f32`);
  for (const ep of gpu ? gpuEps : (["cpu"] as Ep[])) {
    for (const key of variantKeys) plan.push({ ep, key, size: gpu ? gpuSize : cpuSize, steps: gpu ? gpuSteps : 1, save: noiseFile(ep, key) });
  }
  const parity = gpu && variantKeys.includes("fp32");
  for (let i = 0; i < plan.length; i++) {
    const { ep, key, size, steps, save } = plan[i];
    const graph = join(graphDir, VARIANTS[key].file);
    const entry: Record<string, unknown> = { variant: key, ep, describe: VARIANTS[key].describe, size, batch, stepsAsked: steps };
    runs.push(entry);
    if (!existsSync(graph)) {
      entry.ok = false;
      entry.error = `graph not built: ${JSON.stringify(buildResults[VARIANTS[key].build] ?? "not asked")}`;
      continue;
    }
    // a share of what is left, keeping ~75 s for the CPU comparison on a GPU machine; fp32 (first, and the
    // one the others are compared with) counts twice; time a run does not use passes on to the next ones
    const weight = (k: VariantKey) => (k === "fp32" ? 2 : 1);
    const weights = plan.slice(i).reduce((a, p) => a + weight(p.key), 0);
    const reserve = parity ? 75 : 0;
    const share = Math.max(30, ((remaining() - reserve - 10) * weight(key)) / weights);
    if (remaining() < 25) {
      entry.ok = false;
      entry.error = "skipped: the time budget ran out";
      continue;
    }
    const runDeadline = Date.now() + Math.min(share, remaining() - 10) * 1000;
    console.log(`[${elapsed()}s] ${ep} ${key} at ${size}² batch ${batch} (up to ${Math.round((runDeadline - Date.now()) / 1000)} s)`);
    const o = await child("run", { ep, graph, size, batch, steps, deadlineMs: runDeadline - 5000, save }, runDeadline, `run-${ep}-${key}`);
    Object.assign(entry, o.result ?? { ok: false, ...o.partial, error: describeFailure(o) });
    const placed = placements(o.logFile);
    if (placed) entry.placements = placed;
    const tail = logTail(o.logFile, 600);
    if (tail) entry.log = tail;
    // the same inputs through the fp32 graph on the same provider: what the fp16 forms change
    const vsFp32 = key === "fp32" ? undefined : compareOutputs(save, noiseFile(ep, "fp32"));
    if (vsFp32) entry.noisePredVsFp32 = vsFp32;
    console.log(`[${elapsed()}s] ${ep} ${key}: ${entry.ok ? `${entry.secondsPerStep} s/step (first step ${entry.firstStepS} s, session ${entry.createS} s)` : entry.error}`);
    write();
  }

  // the GPU's fp32 output against the CPU provider's on the same inputs
  if (parity) {
    const gpuNoise = noiseFile(gpuEps[0], "fp32");
    if (existsSync(gpuNoise) && remaining() > 40) {
      console.log(`[${elapsed()}s] cpu fp32 at ${gpuSize}² batch ${batch}, once, to compare with ${gpuEps[0]}`);
      const cpuNoise = join(work, "noise-cpu.f32");
      const o = await child("run", { ep: "cpu", graph: join(graphDir, VARIANTS.fp32.file), size: gpuSize, batch, steps: 0, deadlineMs: deadline - 10_000, save: cpuNoise }, deadline - 5000, "run-cpu-parity");
      const diff = o.result ? compareOutputs(gpuNoise, cpuNoise) : undefined;
      if (diff) {
        report.parity = { what: `noise_pred of the fp32 graph, ${gpuEps[0]} against cpu, same inputs`, ...diff, cpuStepS: o.result!.firstStepS, cpuCreateS: o.result!.createS };
      } else {
        report.parity = { error: describeFailure(o) };
      }
    } else {
      report.parity = { error: existsSync(gpuNoise) ? "skipped: the time budget ran out" : "no GPU fp32 output to compare" };
    }
  }

  // summary
  const done = runs.filter((r) => r.ok);
  const fmt = (r: Record<string, unknown>) => `${r.variant} ${r.secondsPerStep} s/step`;
  report.ok = gpu && done.length > 0;
  const why = candidates
    .filter((ep) => checks[ep])
    .map((ep) => `${ep}: ${String((checks[ep] as { reason?: string }).reason ?? "ok")}`)
    .join("; ");
  if (gpu) {
    report.summary = `${gpuEps.join("+")} on the GPU, sd15 UNet ${gpuSize}² batch ${batch}: ${done.map(fmt).join(", ") || "no variant ran"}`;
  } else {
    report.summary = `no GPU provider could start (${forceCpu ? "not tried" : why}); CPU fallback, sd15 UNet ${cpuSize}² batch ${batch}: ${done.map(fmt).join(", ") || "no variant ran"}`;
  }
  if (variantKeys.includes("fp16") || variantKeys.includes("fp16c")) {
    notes.push("fp16 = fp16 storage only (ORT folds the weight Casts at session creation, so it computes in float32 like fp32); fp16c = true fp16 compute from gpu-runner/src/graph/fp16-compute.ts");
  }
  write();
  console.log(`[${elapsed()}s] ${report.summary}`);
}

// ---- entry -------------------------------------------------------------------------------------------------

const argv = process.argv.slice(2);
if (argv[0] === "--child") {
  const kinds: Record<string, (a: never) => Promise<object>> = { build: childBuild, check: childCheck, run: childRun };
  const run = kinds[argv[1]];
  try {
    if (!run) throw new Error(`unknown child kind ${argv[1]}`);
    say({ result: await run(JSON.parse(argv[2] ?? "{}") as never) });
    process.exit(0);
  } catch (e) {
    say({ error: errorText(e) });
    process.exit(1);
  }
} else {
  await parent();
}
