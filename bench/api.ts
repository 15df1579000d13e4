/**
 * API bench (`npm run bench:api`): requests/s, p50/p99 latency and CPU per request of
 * `POST /v1/generations` and `GET /v1/generations/{id}` (real emulator calls) against a bare Hono
 * route on the same server, loaded (8 clients) and unloaded (1 client), and the storage round trips
 * each kind of request makes, counted (bench/api/round-trips.ts), with how many run one after another.
 *
 * The emulators run in child processes (bench/api/emulators.ts): by default each in its own, as each
 * AWS service is its own fleet, so the API's parallel calls to different services are answered in
 * parallel; `--layout one` puts all three in one process (the first benches' layout), where they
 * queue behind each other. This process's CPU is only the load generator, the Node server, Hono and
 * our code with its AWS SDK clients. The bare
 * route pays the same client, server, framework and middleware cost, so
 *   our CPU per submission = CPU per submit request − CPU per bare request
 * is the validation, tokenizing, record and queue work of a submission, SDK marshalling included.
 */
import { writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { createAwsClients, destroyAwsClients } from "@troupe/shared/aws/clients";
import type { ModelInfo } from "@troupe/shared/bundle/model-info";
import type { ApiConfig } from "@troupe/shared/config";
import { createApp } from "../functions/src/app.ts";
import { createDeps } from "../functions/src/deps.ts";
import { startServer } from "../functions/src/handlers/node.ts";
import { ONE_SUBJECT, TWO_SUBJECTS, startBenchApi, uploadPng } from "./api/bench-api.ts";
import type { EmulatorLayout } from "./api/emulators.ts";
import { addNetworkDelay, countRoundTrips, loggedFetch, settled, summarize, type RequestLog, type RoundTripStats } from "./api/round-trips.ts";

const REQUESTS = 400;
const CONCURRENCY = 8;
/** Unloaded: one client, one request at a time. */
const UNLOADED_REQUESTS = 150;
/** The AWS-like phase: this much network time added to every storage call, one client. */
const AWS_LIKE_DELAY_MS = 5;
const AWS_LIKE_REQUESTS = 60;
/** Requests per kind in the round-trip count (the first of each runs with a cold key cache). */
const COUNTED = 20;
/**
 * Requests per kind before anything is measured: V8 compiles the hot path over the first few hundred
 * (a submission's CPU was 9.7 ms over the first 200 and 5.9 ms over 2,000 in bench/api/profile-submit.ts);
 * a long-lived API process runs compiled code.
 */
const WARMUP = 300;
const PHASE_CAP_MS = 60_000;
const HARD_CAP_MS = 240_000;

interface Target {
  name: string;
  send: () => Promise<Response>;
  ok: number;
}

interface PhaseResult {
  name: string;
  concurrency: number;
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
async function runPhase(target: Target, count: number, emulatorCpu: CpuProbe, concurrency = CONCURRENCY): Promise<PhaseResult> {
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
  await Promise.all(Array.from({ length: concurrency }, client));
  const seconds = (performance.now() - t0) / 1000;
  const [cpu, emu] = [cpuMs(process.cpuUsage(cpu0)), (await emulatorCpu()) - emu0];
  latencies.sort((a, b) => a - b);
  const n = latencies.length;
  return {
    name: target.name,
    concurrency,
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

function printTable(rows: PhaseResult[]): void {
  const cols = ["name", "concurrency", "requests", "errors", "rps", "p50Ms", "p99Ms", "cpuMsPerRequest", "emulatorCpuMsPerRequest"] as const;
  const cells = [cols.map(String), ...rows.map((r) => cols.map((c) => String(r[c])))];
  const widths = cols.map((_, i) => Math.max(...cells.map((row) => row[i].length)));
  for (const row of cells) console.log(row.map((cell, i) => cell.padStart(widths[i])).join("  "));
}

interface CountedKind extends RoundTripStats {
  name: string;
  /** The first request of a key this process had not seen (cold key cache), same measure. */
  coldKeySequential: number;
  coldKeyCalls: number;
}

/**
 * Storage round trips per kind of request, counted on a second app with its own clients and deps
 * (so the timed app never pays for the counting): each kind gets a fresh key whose first request
 * is the cold one, then COUNTED − 1 warm ones, one at a time.
 */
async function countKinds(mainUrl: string, config: ApiConfig, model: ModelInfo): Promise<CountedKind[]> {
  const clients = createAwsClients(config);
  countRoundTrips(clients);
  const deps = await createDeps(config, { clients, model, log: () => {} });
  const logs: RequestLog[] = [];
  const server = await startServer({ fetch: loggedFetch(createApp(deps), logs) }, { port: 0 });
  const kinds: CountedKind[] = [];
  try {
    type Send = (url: string, headers: Record<string, string>, i: number) => Promise<Response>;
    const kind = async (name: string, prepare: (headers: Record<string, string>) => Promise<Send>) => {
      // A fresh key, prepared through the timed app so the counting app has never seen it.
      const { key } = await deps.stores.keys.create({ name: `bench-${name}`, monthlyImages: 10_000_000, ratePerMinute: 100_000 });
      const headers = { authorization: `Bearer ${key}`, "content-type": "application/json" };
      const run = await prepare(headers);
      logs.length = 0;
      for (let i = 0; i < COUNTED; i++) {
        const res = await run(server.url, headers, i);
        await res.arrayBuffer();
        if (!res.ok) throw new Error(`${name}: ${res.status}`);
      }
      await settled();
      const [cold, ...warm] = logs.splice(0);
      const coldStats = summarize([cold]);
      kinds.push({ name, ...summarize(warm), coldKeySequential: coldStats.sequentialMax, coldKeyCalls: coldStats.callsPerRequest });
    };
    const post = (body: string, extra: (i: number) => Record<string, string> = () => ({})): Send => (url, headers, i) =>
      fetch(`${url}/v1/generations`, { method: "POST", headers: { ...headers, ...extra(i) }, body });
    await kind("POST /v1/generations, 1 subject", async (h) => post(ONE_SUBJECT(await uploadPng(mainUrl, h))));
    await kind("POST /v1/generations, 2 subjects", async (h) => post(TWO_SUBJECTS(await uploadPng(mainUrl, h), await uploadPng(mainUrl, h))));
    const tag = Date.now().toString(36);
    await kind("POST /v1/generations, 2 subjects, Idempotency-Key", async (h) =>
      post(TWO_SUBJECTS(await uploadPng(mainUrl, h), await uploadPng(mainUrl, h)), (i) => ({ "idempotency-key": `bench-${tag}-${i}` })),
    );
    await kind("GET /v1/generations/{id}", async (h) => {
      const job = (await (await fetch(`${mainUrl}/v1/generations`, { method: "POST", headers: h, body: ONE_SUBJECT(await uploadPng(mainUrl, h)) })).json()) as { id: string };
      return (url, headers) => fetch(`${url}/v1/generations/${job.id}`, { headers });
    });
  } finally {
    await server.close();
    destroyAwsClients(clients);
  }
  return kinds;
}

/**
 * Unloaded latency with AWS-like network time: a second app whose clients wait AWS_LIKE_DELAY_MS
 * before every storage call. On the emulators (one process, answering in microseconds of network
 * time) calls made in parallel still queue behind each other; with network time they overlap, as on AWS.
 */
async function awsLikePhases(mainUrl: string, config: ApiConfig, model: ModelInfo, emulatorCpu: CpuProbe): Promise<PhaseResult[]> {
  const clients = createAwsClients(config);
  addNetworkDelay(clients, AWS_LIKE_DELAY_MS);
  const deps = await createDeps(config, { clients, model, log: () => {} });
  const server = await startServer(createApp(deps), { port: 0 });
  try {
    const { key } = await deps.stores.keys.create({ name: "bench-aws-like", monthlyImages: 10_000_000, ratePerMinute: 100_000 });
    const headers = { authorization: `Bearer ${key}`, "content-type": "application/json" };
    const body = TWO_SUBJECTS(await uploadPng(mainUrl, headers), await uploadPng(mainUrl, headers));
    const job = (await (await fetch(`${mainUrl}/v1/generations`, { method: "POST", headers, body })).json()) as { id: string };
    const name = (what: string) => `${what}, +${AWS_LIKE_DELAY_MS} ms/call`;
    const submit: Target = { name: name("POST /v1/generations (2 subjects)"), ok: 202, send: () => fetch(`${server.url}/v1/generations`, { method: "POST", headers, body }) };
    const poll: Target = { name: name("GET /v1/generations/{id}"), ok: 200, send: () => fetch(`${server.url}/v1/generations/${job.id}`, { headers }) };
    for (const t of [submit, poll]) await runPhase(t, 4, emulatorCpu, 1);
    return [await runPhase(submit, AWS_LIKE_REQUESTS, emulatorCpu, 1), await runPhase(poll, AWS_LIKE_REQUESTS, emulatorCpu, 1)];
  } finally {
    await server.close();
    destroyAwsClients(clients);
  }
}

async function main(): Promise<void> {
  const hardStop = setTimeout(() => {
    console.error(`bench: exceeded ${HARD_CAP_MS / 1000} s, stopping`);
    process.exit(1);
  }, HARD_CAP_MS);
  hardStop.unref();

  // --http node: the SDK's node:http handler under the timed app's clients instead of undici (A/B).
  const { values } = parseArgs({ options: { layout: { type: "string", default: "separate" }, http: { type: "string", default: "undici" } } });
  const api = await startBenchApi({ layout: values.layout as EmulatorLayout, http: values.http as "undici" | "node" });
  const { emulators, config, model, url, headers } = api;

  try {
    const body = ONE_SUBJECT(await uploadPng(url, headers));
    const polled = (await (await fetch(`${url}/v1/generations`, { method: "POST", headers, body })).json()) as { id: string };

    const bare: Target = { name: "GET /bench/bare", ok: 200, send: () => fetch(`${url}/bench/bare`, { headers }) };
    const submit: Target = { name: "POST /v1/generations", ok: 202, send: () => fetch(`${url}/v1/generations`, { method: "POST", headers, body }) };
    const poll: Target = { name: "GET /v1/generations/{id}", ok: 200, send: () => fetch(`${url}/v1/generations/${polled.id}`, { headers }) };
    for (const t of [bare, submit, poll]) await runPhase(t, WARMUP, emulators.cpu);
    const loaded = [await runPhase(bare, REQUESTS, emulators.cpu), await runPhase(submit, REQUESTS, emulators.cpu), await runPhase(poll, REQUESTS, emulators.cpu)];
    const unloaded = [];
    for (const t of [bare, submit, poll]) unloaded.push(await runPhase(t, UNLOADED_REQUESTS, emulators.cpu, 1));
    const awsLike = await awsLikePhases(url, config, model, emulators.cpu);
    const rows = [...loaded, ...unloaded, ...awsLike];
    const roundTrips = await countKinds(url, config, model);

    const ourCpuMsPerSubmission = round(loaded[1].cpuMsPerRequest - loaded[0].cpuMsPerRequest, 3);
    const ourCpuMsPerPoll = round(loaded[2].cpuMsPerRequest - loaded[0].cpuMsPerRequest, 3);
    printTable(rows);
    console.log(`\nour CPU per submission (submit − bare, this process, ${CONCURRENCY} concurrent): ${ourCpuMsPerSubmission} ms`);
    console.log(`our CPU per poll (poll − bare): ${ourCpuMsPerPoll} ms`);
    console.log(`unloaded p50/p99: submission ${unloaded[1].p50Ms}/${unloaded[1].p99Ms} ms, poll ${unloaded[2].p50Ms}/${unloaded[2].p99Ms} ms, bare ${unloaded[0].p50Ms}/${unloaded[0].p99Ms} ms`);
    console.log(`unloaded p50/p99 with ${AWS_LIKE_DELAY_MS} ms of network time per storage call: 2-subject submission ${awsLike[0].p50Ms}/${awsLike[0].p99Ms} ms, poll ${awsLike[1].p50Ms}/${awsLike[1].p99Ms} ms`);
    console.log("\nstorage round trips per request (counted; sequential = longest chain before the response; warm key cache, then a new key's first request):");
    for (const k of roundTrips) {
      console.log(
        `  ${k.name}: ${k.callsPerRequest} calls (${k.callsAfterResponse} after the response) ${JSON.stringify(k.byService)}, sequential p50 ${k.sequentialP50} max ${k.sequentialMax}; cold key: ${k.coldKeyCalls} calls, ${k.coldKeySequential} sequential`,
      );
    }
    const report = {
      date: new Date().toISOString(),
      emulatorLayout: emulators.layout,
      node: process.version,
      cpus: cpus().length,
      settings: { requests: REQUESTS, concurrency: CONCURRENCY, unloadedRequests: UNLOADED_REQUESTS, awsLikeRequests: AWS_LIKE_REQUESTS, counted: COUNTED, warmup: WARMUP, phaseCapMs: PHASE_CAP_MS },
      results: rows,
      ourCpuMsPerSubmission,
      ourCpuMsPerPoll,
      awsLike: { delayMsPerCall: AWS_LIKE_DELAY_MS, submission2Subjects: { p50Ms: awsLike[0].p50Ms, p99Ms: awsLike[0].p99Ms }, poll: { p50Ms: awsLike[1].p50Ms, p99Ms: awsLike[1].p99Ms } },
      unloaded: { submission: { p50Ms: unloaded[1].p50Ms, p99Ms: unloaded[1].p99Ms }, poll: { p50Ms: unloaded[2].p50Ms, p99Ms: unloaded[2].p99Ms }, bare: { p50Ms: unloaded[0].p50Ms, p99Ms: unloaded[0].p99Ms } },
      roundTrips,
      method:
        `Emulators run in child processes (layout "${emulators.layout}": "separate" = one process per emulator, "one" = all in one). cpuMsPerRequest = this process's CPU (load generator + Node server + Hono + our code + AWS SDK) per request; ` +
        "our CPU per submission/poll = that route minus the bare route at the same concurrency, which cancels the client, server and middleware cost they share. " +
        "Round trips are counted on a second app with its own clients, whose HTTP handlers log every attempt against the request (AsyncLocalStorage); " +
        "sequential = the longest chain of calls, each starting after the previous ended, among those started before the response. " +
        `awsLike: one client, a third app whose storage calls each wait ${AWS_LIKE_DELAY_MS} ms first (network time the emulators lack).`,
    };
    writeFileSync(fileURLToPath(new URL("./api.json", import.meta.url)), `${JSON.stringify(report, null, 2)}\n`);
  } finally {
    await api.stop();
  }
}

await main();