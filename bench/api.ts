/**
 * API bench (`npm run bench:api`): requests/s, p50/p99 latency and CPU per request of
 * `POST /v1/generations` (real emulator calls) against a bare Hono route on the same server.
 *
 * The emulators run in a child process (this file with `--emulators`), so this process's CPU is
 * only the load generator, the Node server, Hono and our code with its AWS SDK clients. The bare
 * route pays the same client, server, framework and middleware cost, so
 *   our CPU per submission = CPU per submit request − CPU per bare request
 * is the validation, tokenizing, record and queue work of a submission, SDK marshalling included.
 */
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { rmSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { createAwsClients, destroyAwsClients } from "@troupe/shared/aws/clients";
import { loadModelInfo } from "@troupe/shared/bundle/model-info";
import { ApiConfigSchema, loadConfig } from "@troupe/shared/config";
import { UploadSchema } from "@troupe/shared/contracts/upload";
import { createApp } from "../functions/src/app.ts";
import { createDeps } from "../functions/src/deps.ts";
import { startServer } from "../functions/src/handlers/node.ts";
import { startTestEnv } from "../local/test-env.ts";
import { writeFixtureBundle } from "../test/api/support/fixture-bundle.ts";

const REQUESTS = 400;
const CONCURRENCY = 8;
const WARMUP = 24;
const PHASE_CAP_MS = 60_000;
const HARD_CAP_MS = 240_000;
const PNG = Buffer.from("89504e470d0a1a0a0000000d4948445200000001000000010806000000", "hex");

interface Target {
  name: string;
  send: () => Promise<Response>;
  ok: number;
}

interface PhaseResult {
  name: string;
  requests: number;
  errors: number;
  seconds: number;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  cpuMsPerRequest: number;
  emulatorCpuMsPerRequest: number;
}

type CpuProbe = () => Promise<number>;

const cpuMs = (u: NodeJS.CpuUsage) => (u.user + u.system) / 1000;
const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * (sorted.length - 1)))];
const round = (x: number, digits = 2) => Math.round(x * 10 ** digits) / 10 ** digits;

/** `count` requests from `concurrency` clients, stopping early at the phase cap. */
async function runPhase(target: Target, count: number, emulatorCpu: CpuProbe): Promise<PhaseResult> {
  const latencies: number[] = [];
  let errors = 0;
  let issued = 0;
  const deadline = performance.now() + PHASE_CAP_MS;
  const [cpu0, emu0, t0] = [process.cpuUsage(), await emulatorCpu(), performance.now()];
  const client = async () => {
    while (issued < count && performance.now() < deadline) {
      issued++;
      const start = performance.now();
      const res = await target.send();
      await res.arrayBuffer();
      latencies.push(performance.now() - start);
      if (res.status !== target.ok) errors++;
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, client));
  const seconds = (performance.now() - t0) / 1000;
  const [cpu, emu] = [cpuMs(process.cpuUsage(cpu0)), (await emulatorCpu()) - emu0];
  latencies.sort((a, b) => a - b);
  const n = latencies.length;
  return {
    name: target.name,
    requests: n,
    errors,
    seconds: round(seconds),
    rps: round(n / seconds, 1),
    p50Ms: round(percentile(latencies, 0.5)),
    p99Ms: round(percentile(latencies, 0.99)),
    cpuMsPerRequest: round(cpu / n, 3),
    emulatorCpuMsPerRequest: round(emu / n, 3),
  };
}

/** Child role: emulators only; prints their env, answers "cpu" with its CPU ms, stops when stdin closes. */
async function serveEmulators(): Promise<void> {
  const env = await startTestEnv();
  process.stdout.write(`${JSON.stringify({ env: env.env })}\n`);
  const lines = createInterface({ input: process.stdin });
  lines.on("line", () => process.stdout.write(`${JSON.stringify({ cpuMs: cpuMs(process.cpuUsage()) })}\n`));
  lines.on("close", () => void env.stop().then(() => process.exit(0)));
}

function startEmulatorProcess(): Promise<{ child: ChildProcessWithoutNullStreams; env: Record<string, string>; cpu: CpuProbe }> {
  const child = spawn(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), "--emulators"], { stdio: "pipe" });
  child.stderr.resume();
  const lines = createInterface({ input: child.stdout });
  const waiting: ((line: string) => void)[] = [];
  lines.on("line", (line) => waiting.shift()?.(line));
  const next = () => new Promise<string>((resolve) => waiting.push(resolve));
  const cpu: CpuProbe = async () => {
    const answer = next();
    child.stdin.write("cpu\n");
    return (JSON.parse(await answer) as { cpuMs: number }).cpuMs;
  };
  return next().then((line) => ({ child, env: (JSON.parse(line) as { env: Record<string, string> }).env, cpu }));
}

function printTable(rows: PhaseResult[]): void {
  const cols = ["name", "requests", "errors", "rps", "p50Ms", "p99Ms", "cpuMsPerRequest", "emulatorCpuMsPerRequest"] as const;
  const cells = [cols.map(String), ...rows.map((r) => cols.map((c) => String(r[c])))];
  const widths = cols.map((_, i) => Math.max(...cells.map((row) => row[i].length)));
  for (const row of cells) console.log(row.map((cell, i) => cell.padStart(widths[i])).join("  "));
}

async function main(): Promise<void> {
  const hardStop = setTimeout(() => {
    console.error(`bench: exceeded ${HARD_CAP_MS / 1000} s, stopping`);
    process.exit(1);
  }, HARD_CAP_MS);
  hardStop.unref();

  const emulators = await startEmulatorProcess();
  const bundle = writeFixtureBundle();
  const config = loadConfig(ApiConfigSchema, { ...emulators.env, TROUPE_BUNDLE: bundle });
  const clients = createAwsClients(config);
  const deps = await createDeps(config, { clients, model: await loadModelInfo(bundle), log: () => {} });
  const app = createApp(deps);
  app.get("/bench/bare", (c) => c.json({ ok: true }));
  const server = await startServer(app, { port: 0 });

  try {
    // A key that neither quota nor rate limit will stop, and one uploaded reference image.
    const { key } = await deps.stores.keys.create({ name: "bench", monthlyImages: 10_000_000, ratePerMinute: 100_000 });
    const headers = { authorization: `Bearer ${key}`, "content-type": "application/json" };
    const slot = UploadSchema.parse(await (await fetch(`${server.url}/v1/uploads`, { method: "POST", headers, body: JSON.stringify({ contentType: "image/png", contentLength: PNG.length }) })).json());
    await fetch(slot.uploadUrl, { method: "PUT", headers: slot.headers, body: PNG });
    const body = JSON.stringify({ prompt: "a photo of a man img walking a dog in a park at sunset", subjects: [{ uploadId: slot.id }], steps: 30 });

    const bare: Target = { name: "GET /bench/bare", ok: 200, send: () => fetch(`${server.url}/bench/bare`, { headers }) };
    const submit: Target = { name: "POST /v1/generations", ok: 202, send: () => fetch(`${server.url}/v1/generations`, { method: "POST", headers, body }) };
    for (const t of [bare, submit]) await runPhase(t, WARMUP, emulators.cpu);
    const rows = [await runPhase(bare, REQUESTS, emulators.cpu), await runPhase(submit, REQUESTS, emulators.cpu)];

    const ourCpuMsPerSubmission = round(rows[1].cpuMsPerRequest - rows[0].cpuMsPerRequest, 3);
    printTable(rows);
    console.log(`\nour CPU per submission (submit − bare, this process): ${ourCpuMsPerSubmission} ms`);
    const report = {
      date: new Date().toISOString(),
      node: process.version,
      cpus: cpus().length,
      settings: { requests: REQUESTS, concurrency: CONCURRENCY, warmup: WARMUP, phaseCapMs: PHASE_CAP_MS },
      results: rows,
      ourCpuMsPerSubmission,
      method:
        "Emulators run in a child process. cpuMsPerRequest = this process's CPU (load generator + Node server + Hono + our code + AWS SDK) per request; " +
        "our CPU per submission = submit minus bare, which cancels the client, server and middleware cost both routes share.",
    };
    writeFileSync(fileURLToPath(new URL("./api.json", import.meta.url)), `${JSON.stringify(report, null, 2)}\n`);
  } finally {
    await server.close();
    destroyAwsClients(clients);
    emulators.child.stdin.end();
    await new Promise((resolve) => emulators.child.once("exit", resolve));
    rmSync(bundle, { recursive: true, force: true });
  }
}

if (process.argv.includes("--emulators")) await serveEmulators();
else await main();
