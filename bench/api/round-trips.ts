/**
 * Counts the storage round trips each API request makes, for `bench/api.ts` only: production clients
 * never carry this. Every client's HTTP handler is wrapped (one entry per attempt, retries included)
 * and each call is charged to the request it runs under through AsyncLocalStorage, so work a request
 * leaves behind after its response (bookkeeping) is still charged to it.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import type { AwsClients } from "@troupe/shared/aws/clients";

interface Call {
  service: string;
  start: number;
  end: number;
}

export interface RequestLog {
  calls: Call[];
  /** performance.now() when the app produced the response. */
  respondedAt?: number;
}

export interface RoundTripStats {
  requests: number;
  /** Mean storage calls per request, after-response bookkeeping included. */
  callsPerRequest: number;
  /** Mean of those made after the response was ready. */
  callsAfterResponse: number;
  /** Mean per service (dynamodb, s3, sqs). */
  byService: Record<string, number>;
  /** Longest chain of calls that ran one after another before the response: the critical path. */
  sequentialP50: number;
  sequentialMax: number;
}

const storage = new AsyncLocalStorage<RequestLog>();
let inFlight = 0;

/** Wraps each client's request handler so every HTTP attempt is logged against the current request. */
export function countRoundTrips(clients: AwsClients): void {
  const services = { dynamodb: clients.ddb, s3: clients.s3, sqs: clients.sqs };
  for (const [service, client] of Object.entries(services)) {
    const handler = client.config.requestHandler as unknown as { handle: (...args: unknown[]) => Promise<unknown> };
    const handle = handler.handle.bind(handler);
    handler.handle = async (...args: unknown[]) => {
      const log = storage.getStore();
      const start = performance.now();
      inFlight++;
      try {
        return await handle(...args);
      } finally {
        inFlight--;
        log?.calls.push({ service, start, end: performance.now() });
      }
    };
  }
}

/**
 * Delays every storage call by `ms` before it is sent: the emulators answer in well under a
 * millisecond of network time, AWS in a few, so this shows what the critical path costs there.
 */
export function addNetworkDelay(clients: AwsClients, ms: number): void {
  for (const client of [clients.ddb, clients.s3, clients.sqs]) {
    const handler = client.config.requestHandler as unknown as { handle: (...args: unknown[]) => Promise<unknown> };
    const handle = handler.handle.bind(handler);
    handler.handle = async (...args: unknown[]) => {
      await new Promise((r) => setTimeout(r, ms));
      return handle(...args);
    };
  }
}

/** A fetch handler that gives each request its own log. */
export function loggedFetch(app: { fetch: (request: Request) => Response | Promise<Response> }, logs: RequestLog[]) {
  return (request: Request) => {
    const log: RequestLog = { calls: [] };
    logs.push(log);
    return storage.run(log, async () => {
      const response = await app.fetch(request);
      log.respondedAt = performance.now();
      return response;
    });
  };
}

/** Resolves once no counted call is in flight (the bookkeeping requests left behind has finished). */
export async function settled(deadlineMs = 10_000): Promise<void> {
  const deadline = performance.now() + deadlineMs;
  while (inFlight > 0 && performance.now() < deadline) await new Promise((r) => setTimeout(r, 10));
}

/** Depth of the longest chain of calls where each starts after the previous one ended. */
function sequentialDepth(calls: Call[]): number {
  const sorted = [...calls].sort((a, b) => a.end - b.end);
  const depth: number[] = [];
  sorted.forEach((call, i) => {
    let before = 0;
    for (let j = 0; j < i; j++) if (sorted[j].end <= call.start) before = Math.max(before, depth[j]);
    depth[i] = before + 1;
  });
  return Math.max(0, ...depth);
}

export function summarize(logs: RequestLog[]): RoundTripStats {
  const n = logs.length;
  const mean = (f: (log: RequestLog) => number) => Math.round((logs.reduce((s, l) => s + f(l), 0) / n) * 100) / 100;
  const services = [...new Set(logs.flatMap((l) => l.calls.map((c) => c.service)))].sort();
  const depths = logs.map((l) => sequentialDepth(l.calls.filter((c) => l.respondedAt === undefined || c.start < l.respondedAt))).sort((a, b) => a - b);
  return {
    requests: n,
    callsPerRequest: mean((l) => l.calls.length),
    callsAfterResponse: mean((l) => l.calls.filter((c) => l.respondedAt !== undefined && c.start >= l.respondedAt).length),
    byService: Object.fromEntries(services.map((s) => [s, mean((l) => l.calls.filter((c) => c.service === s).length)])),
    sequentialP50: depths[Math.floor((n - 1) / 2)] ?? 0,
    sequentialMax: depths[n - 1] ?? 0,
  };
}
