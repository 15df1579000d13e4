/**
 * The emulators for the API bench, outside the measured process. Two layouts:
 *  - "separate" (the default): s3rver, fauxqs and dynalite each in their own child process, so calls
 *    the API makes in parallel to different services are answered in parallel, as on AWS (where each
 *    service is its own fleet). On 2 cores they still share the CPU with the API process.
 *  - "one": all three in one child process, where parallel calls to different services queue behind
 *    each other on one event loop (the layout of the first API benches).
 * Run as a script (`--emulator s3|sqs|dynamodb|all`), a child prints its endpoint(s) as one JSON line,
 * answers each stdin line with its CPU ms, and stops when stdin closes.
 */
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { createAwsClients, destroyAwsClients } from "@troupe/shared/aws/clients";
import { ResourceConfigSchema, loadConfig } from "@troupe/shared/config";
import { startEmulators } from "../../local/emulators.ts";
import { startDynalite } from "../../local/dynalite-only.ts";
import { provision } from "../../local/provision.ts";

export type EmulatorLayout = "separate" | "one";
type Role = "s3" | "sqs" | "dynamodb" | "all";

export interface BenchEmulators {
  layout: EmulatorLayout;
  /** Environment for the API config (endpoints, bucket, queue URLs), provisioned. */
  env: Record<string, string>;
  /** CPU ms used so far by all emulator processes together. */
  cpu: () => Promise<number>;
  stop: () => Promise<void>;
}

const cpuMs = (u: NodeJS.CpuUsage) => (u.user + u.system) / 1000;
const HOST = "127.0.0.1";

/** Child role: one emulator (or all), in this process. */
async function serve(role: Role): Promise<void> {
  const stops: (() => Promise<unknown>)[] = [];
  const endpoints: Record<string, string> = {};
  if (role === "all") {
    const all = await startEmulators();
    Object.assign(endpoints, all.endpoints);
    stops.push(() => all.stop());
  } else if (role === "s3") {
    const { default: S3rver } = await import("s3rver");
    const directory = join(process.env.TMPDIR ?? "/tmp", `troupe-bench-s3-${process.pid}`);
    mkdirSync(directory, { recursive: true });
    const s3 = new S3rver({ address: HOST, port: 0, silent: true, directory, resetOnClose: true });
    endpoints.s3 = `http://${HOST}:${(await s3.run()).port}`;
    stops.push(() => s3.close());
  } else if (role === "sqs") {
    const { buildApp } = await import("fauxqs");
    const sqs = buildApp({ logger: false });
    endpoints.sqs = `http://${HOST}:${new URL(await sqs.listen({ port: 0, host: HOST })).port}`;
    stops.push(() => sqs.close());
  } else {
    const ddb = await startDynalite({});
    endpoints.dynamodb = ddb.endpoint;
    stops.push(() => ddb.stop());
  }
  process.stdout.write(`${JSON.stringify(endpoints)}\n`);
  const lines = createInterface({ input: process.stdin });
  lines.on("line", () => process.stdout.write(`${JSON.stringify({ cpuMs: cpuMs(process.cpuUsage()) })}\n`));
  lines.on("close", () => void Promise.allSettled(stops.map((s) => s())).then(() => process.exit(0)));
}

interface Child {
  child: ChildProcessWithoutNullStreams;
  endpoints: Record<string, string>;
  cpu: () => Promise<number>;
}

async function startChild(role: Role): Promise<Child> {
  // Without --cpu-prof and the like: only the measured process is profiled.
  const execArgv = process.execArgv.filter((a) => !a.startsWith("--cpu-prof") && !a.startsWith("--prof"));
  const child = spawn(process.execPath, [...execArgv, fileURLToPath(import.meta.url), "--emulator", role], { stdio: "pipe" });
  child.stderr.resume();
  const lines = createInterface({ input: child.stdout });
  const waiting: ((line: string) => void)[] = [];
  lines.on("line", (line) => waiting.shift()?.(line));
  const next = () => new Promise<string>((resolve) => waiting.push(resolve));
  const cpu = async () => {
    const answer = next();
    child.stdin.write("cpu\n");
    return (JSON.parse(await answer) as { cpuMs: number }).cpuMs;
  };
  return { child, endpoints: JSON.parse(await next()) as Record<string, string>, cpu };
}

/** Starts the emulators in child processes and provisions the bucket, tables and queues. */
export async function startBenchEmulators(layout: EmulatorLayout = "separate"): Promise<BenchEmulators> {
  const children = await Promise.all((layout === "one" ? (["all"] as const) : (["s3", "sqs", "dynamodb"] as const)).map(startChild));
  const endpoints = Object.assign({}, ...children.map((c) => c.endpoints)) as Record<string, string>;
  const base: Record<string, string> = {
    AWS_REGION: "us-east-1",
    TROUPE_BUCKET: "troupe-test",
    TROUPE_S3_ENDPOINT: endpoints.s3,
    TROUPE_SQS_ENDPOINT: endpoints.sqs,
    TROUPE_DYNAMODB_ENDPOINT: endpoints.dynamodb,
    TROUPE_LOCAL_MODE: "true",
  };
  const config = loadConfig(ResourceConfigSchema, base);
  const clients = createAwsClients(config);
  const { queueUrl, dlqUrl } = await provision(clients, config);
  destroyAwsClients(clients);
  return {
    layout,
    env: { ...base, TROUPE_QUEUE_URL: queueUrl, TROUPE_DLQ_URL: dlqUrl },
    cpu: async () => (await Promise.all(children.map((c) => c.cpu()))).reduce((a, b) => a + b, 0),
    stop: async () => {
      await Promise.all(
        children.map(({ child }) => {
          const exited = new Promise((resolve) => child.once("exit", resolve));
          child.stdin.end();
          return exited;
        }),
      );
    },
  };
}

const at = process.argv.indexOf("--emulator");
if (at >= 0 && process.argv[1] === fileURLToPath(import.meta.url)) await serve(process.argv[at + 1] as Role);
