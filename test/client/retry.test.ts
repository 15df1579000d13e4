import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createTroupeClient, retryAfterMs, TroupeError, type Sleep } from "@troupe/client";

/** A scripted API: each request takes the next answer of its path; every attempt is counted. */
type Answer = { status: number; headers?: Record<string, string>; body?: unknown } | "hang-up";
const script = new Map<string, Answer[]>();
const attempts: { method: string; path: string; idempotencyKey?: string }[] = [];
let server: Server;
let baseUrl: string;

function answer(req: IncomingMessage, res: ServerResponse) {
  const path = req.url ?? "/";
  attempts.push({ method: req.method ?? "", path, idempotencyKey: req.headers["idempotency-key"] as string | undefined });
  const next = script.get(path)?.shift() ?? { status: 200, body: { ok: true } };
  req.resume();
  if (next === "hang-up") return req.socket.destroy();
  res.writeHead(next.status, { "content-type": "application/json", "x-request-id": "req_test", ...next.headers });
  res.end(JSON.stringify(next.body ?? {}));
}

const apiError = (code: string) => ({ error: { code, message: `${code} happened`, requestId: "req_test" } });
const usageBody = { period: "2026-01", images: { used: 1, limit: 10, reserved: 1 }, gpuSeconds: { used: 0 }, jobs: { submitted: 1, succeeded: 1, failed: 0, canceled: 0 } };
const jobBody = { id: "gen_x", status: "queued" };

/** Records every wait instead of waiting: the waits are asserted, never timed. */
let waits: number[];
const sleep: Sleep = async (ms) => void waits.push(ms);
const client = (maxRetries = 3) => createTroupeClient({ baseUrl, apiKey: "trp_test", sleep, maxRetries, retryBaseMs: 1 });
const input = { prompt: "a dog img", subjects: [{ uploadId: "upl_0123456789" }] };

beforeAll(async () => {
  server = createServer(answer);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const address = server.address();
  baseUrl = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`;
});
afterAll(() => new Promise((r) => server.close(r)));
beforeEach(() => {
  script.clear();
  attempts.length = 0;
  waits = [];
});

describe("retries", () => {
  it("retries a GET after 429, waiting what Retry-After says", async () => {
    script.set("/v1/usage", [{ status: 429, headers: { "retry-after": "1" }, body: apiError("rate_limited") }, { status: 200, body: usageBody }]);
    await expect(client().usage()).resolves.toEqual(usageBody);
    expect(attempts.map((a) => a.path)).toEqual(["/v1/usage", "/v1/usage"]);
    expect(waits).toEqual([1000]);
  });

  it("never retries a 400, and reports its code", async () => {
    script.set("/v1/generations/gen_x", [{ status: 400, body: apiError("invalid_request") }]);
    const e = await client().generations.get("gen_x").catch((x: unknown) => x);
    expect(e).toBeInstanceOf(TroupeError);
    expect(e).toMatchObject({ code: "invalid_request", status: 400, requestId: "req_test" });
    expect(attempts).toHaveLength(1);
    expect(waits).toEqual([]);
  });

  it("retries a create only when it carries an Idempotency-Key, resending the same key", async () => {
    script.set("/v1/generations", [{ status: 503, body: apiError("internal_error") }, { status: 202, body: jobBody }]);
    await expect(client().generations.create(input, { idempotencyKey: "k-1" })).resolves.toEqual(jobBody);
    expect(attempts.map((a) => a.idempotencyKey)).toEqual(["k-1", "k-1"]);

    attempts.length = 0;
    script.set("/v1/generations", [{ status: 503, body: apiError("internal_error") }, { status: 202, body: jobBody }]);
    await expect(client().generations.create(input)).rejects.toMatchObject({ code: "internal_error", status: 503 });
    expect(attempts).toHaveLength(1);
  });

  it("does not retry a POST without a key (cancel), even on 5xx", async () => {
    script.set("/v1/generations/gen_x/cancel", [{ status: 500, body: apiError("internal_error") }]);
    await expect(client().generations.cancel("gen_x")).rejects.toMatchObject({ code: "internal_error" });
    expect(attempts).toHaveLength(1);
  });

  it("retries network errors on safe requests, with growing backoff", async () => {
    script.set("/v1/usage", ["hang-up", "hang-up", { status: 200, body: usageBody }]);
    await expect(createTroupeClient({ baseUrl, apiKey: "k", sleep, retryBaseMs: 100 }).usage()).resolves.toEqual(usageBody);
    expect(attempts).toHaveLength(3);
    expect(waits).toHaveLength(2);
    expect(waits[0]).toBeGreaterThanOrEqual(50);
    expect(waits[0]).toBeLessThanOrEqual(100);
    expect(waits[1]).toBeGreaterThanOrEqual(100);
    expect(waits[1]).toBeLessThanOrEqual(200);
  });

  it("gives up after maxRetries and reports the last answer", async () => {
    script.set("/v1/usage", Array.from({ length: 5 }, () => ({ status: 502, body: apiError("internal_error") })));
    await expect(client(2).usage()).rejects.toMatchObject({ code: "internal_error", status: 502 });
    expect(attempts).toHaveLength(3);
  });

  it("does not wait out a Retry-After beyond its cap (an exhausted monthly quota)", async () => {
    script.set("/v1/usage", [{ status: 429, headers: { "retry-after": "86400" }, body: apiError("quota_exceeded") }]);
    await expect(client().usage()).rejects.toMatchObject({ code: "quota_exceeded", status: 429 });
    expect(attempts).toHaveLength(1);
    expect(waits).toEqual([]);
  });

  it("turns a refused connection into network_error after its retries", async () => {
    const closed = createTroupeClient({ baseUrl: "http://127.0.0.1:1", apiKey: "k", sleep, maxRetries: 1 });
    await expect(closed.usage()).rejects.toMatchObject({ code: "network_error", status: 0 });
    expect(waits).toHaveLength(1);
  });
});

describe("retryAfterMs", () => {
  it("reads delta-seconds and HTTP dates", () => {
    const now = Date.parse("2026-01-01T00:00:00Z");
    expect(retryAfterMs("2", now)).toBe(2000);
    expect(retryAfterMs("Thu, 01 Jan 2026 00:00:05 GMT", now)).toBe(5000);
    expect(retryAfterMs("soon", now)).toBeUndefined();
    expect(retryAfterMs(null, now)).toBeUndefined();
  });
});
