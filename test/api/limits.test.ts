import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PutCommand } from "@aws-sdk/lib-dynamodb";
import { createApp } from "../../functions/src/app.ts";
import { waitFor } from "../support/wait-for.ts";
import { startHarness, type Harness } from "./support/harness.ts";

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => h?.stop());

const dog = (uploadId: string, extra: Record<string, unknown> = {}) => ({ prompt: "a dog img on a beach", subjects: [{ uploadId }], ...extra });

describe("Idempotency-Key", () => {
  it("returns the same job for the same body and sends one message", async () => {
    const { key, keyId } = await h.newKey();
    const photo = await h.upload(key);
    const headers = { "idempotency-key": "order-42" };
    const first = await h.call("POST", "/v1/generations", { key, headers, body: dog(photo) });
    // Same request with defaults spelled out and keys reordered: still the same request.
    const second = await h.call("POST", "/v1/generations", { key, headers, body: { steps: 50, subjects: [{ uploadId: photo }], prompt: "a dog img on a beach" } });
    expect(first.status).toBe(202);
    expect(second.status).toBe(202);
    expect(second.body.id).toBe(first.body.id);
    expect(second.body.input.seed).toBe(first.body.input.seed);
    expect(await h.drainQueue()).toHaveLength(1);
    expect(await h.countJobs(keyId)).toBe(1);

    const conflict = await h.call("POST", "/v1/generations", { key, headers, body: dog(photo, { steps: 10 }) });
    expect(conflict).toMatchObject({ status: 409, body: { error: { code: "idempotency_conflict" } } });
    expect(await h.drainQueue()).toEqual([]);
    expect(await h.countJobs(keyId)).toBe(1);

    // Keys are per tenant: another key may use the same Idempotency-Key.
    const other = await h.newKey();
    const theirs = await h.call("POST", "/v1/generations", { key: other.key, headers, body: dog(await h.upload(other.key)) });
    expect(theirs.status).toBe(202);
    expect(theirs.body.id).not.toBe(first.body.id);
    expect(await h.drainQueue()).toHaveLength(1);
  });

  it("dispatches a replayed job that was recorded but never sent", async () => {
    const { key, keyId } = await h.newKey();
    const photo = await h.upload(key);
    const headers = { "idempotency-key": "crash-after-create" };
    const first = await h.call("POST", "/v1/generations", { key, headers, body: dog(photo) });
    await h.drainQueue();
    // The dispatchedAt mark follows the answer: wait for it, then simulate a crash between record
    // and dispatch: no dispatchedAt, no dispatch lease taken.
    const record = await waitFor(async () => {
      const job = await h.deps.stores.jobs.get(keyId, first.body.id);
      return job?.dispatchedAt ? job : null;
    }, { what: "the dispatchedAt mark" });
    const { dispatchedAt: _sent, dispatchingAt: _lease, ...undispatched } = record;
    await h.t.clients.ddb.send(new PutCommand({ TableName: h.deps.config.TROUPE_JOBS_TABLE, Item: undispatched }));

    const again = await h.call("POST", "/v1/generations", { key, headers, body: dog(photo) });
    expect(again.body.id).toBe(first.body.id);
    expect((await h.drainQueue()).map((m) => m.jobId)).toEqual([first.body.id]);
    expect((await h.deps.stores.jobs.get(keyId, first.body.id))?.dispatchedAt).toEqual(expect.any(String));
  });
});

describe("quota", () => {
  it("admits exactly the limit under concurrent submissions and gives a canceled job's images back", async () => {
    const { key, keyId } = await h.newKey({ monthlyImages: 4 });
    const photo = await h.upload(key);
    const results = await Promise.all(Array.from({ length: 10 }, () => h.call("POST", "/v1/generations", { key, body: dog(photo) })));
    const accepted = results.filter((r) => r.status === 202);
    const refused = results.filter((r) => r.status === 429);
    expect(accepted).toHaveLength(4);
    expect(refused).toHaveLength(6);
    for (const r of refused) {
      expect(r.body.error.code).toBe("quota_exceeded");
      expect(Number(r.headers.get("retry-after"))).toBeGreaterThan(0);
    }
    expect(await h.countJobs(keyId)).toBe(4);
    expect(await h.drainQueue()).toHaveLength(4);

    expect((await h.call("POST", `/v1/generations/${accepted[0].body.id}/cancel`, { key })).status).toBe(202);
    expect((await h.call("POST", "/v1/generations", { key, body: dog(photo) })).status).toBe(202);
    expect((await h.call("POST", "/v1/generations", { key, body: dog(photo) })).status).toBe(429);
    expect((await h.call("POST", "/v1/generations", { key, body: dog(photo, { numImages: 2 }) })).status).toBe(429);
    expect(await h.drainQueue()).toHaveLength(1);
    expect((await h.call("GET", "/v1/usage", { key })).body.images).toEqual({ used: 0, limit: 4, reserved: 4 });
  });
});

describe("rate limit", () => {
  it("refuses requests over the key's per-minute rate with Retry-After", async () => {
    const { key } = await h.newKey({ ratePerMinute: 3 });
    h.setNow(Date.UTC(2030, 0, 1, 12, 0, 45));
    try {
      for (let i = 0; i < 3; i++) expect((await h.call("GET", "/v1/usage", { key })).status).toBe(200);
      const limited = await h.call("GET", "/v1/usage", { key });
      expect(limited).toMatchObject({ status: 429, body: { error: { code: "rate_limited" } } });
      expect(limited.headers.get("retry-after")).toBe("15");
      // Another key is not affected; the next minute admits again.
      expect((await h.call("GET", "/v1/usage", { key: (await h.newKey()).key })).status).toBe(200);
      h.setNow(Date.UTC(2030, 0, 1, 12, 1, 0));
      expect((await h.call("GET", "/v1/usage", { key })).status).toBe(200);
    } finally {
      h.setNow(undefined);
    }
  });
});

describe("failures on our side", () => {
  it("records nothing when the message cannot be sent: a 500, the quota and the Idempotency-Key given back, a retry succeeds", async () => {
    const { key, keyId } = await h.newKey({ monthlyImages: 1 });
    const photo = await h.upload(key);
    const broken = createApp({ ...h.deps, queueUrl: `${h.t.env.TROUPE_SQS_ENDPOINT}/000000000000/no-such-queue` });
    const headers = { authorization: `Bearer ${key}`, "content-type": "application/json", "idempotency-key": "queue-down" };
    const res = await broken.request("/v1/generations", { method: "POST", headers, body: JSON.stringify(dog(photo)) });
    expect(res.status).toBe(500);
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(body.error).toMatchObject({ code: "internal_error", message: expect.stringContaining("retry the request") });
    expect(await h.countJobs(keyId)).toBe(0);
    expect((await h.call("GET", "/v1/usage", { key })).body.images).toEqual({ used: 0, limit: 1, reserved: 0 });

    // The same request again, with the queue back: the quota's one image and the key are free.
    const again = await h.call("POST", "/v1/generations", { key, headers: { "idempotency-key": "queue-down" }, body: dog(photo) });
    expect(again.status).toBe(202);
    expect((await h.drainQueue()).map((m) => m.jobId)).toEqual([again.body.id]);
    expect(await h.deps.stores.jobs.get(keyId, again.body.id)).toMatchObject({ status: "queued", dispatchedAt: expect.any(String) });
  });

  it("keeps a job whose record write committed although its answer was lost (the SDK's retry then finds the id taken)", async () => {
    const { key, keyId } = await h.newKey({ monthlyImages: 1 });
    const photo = await h.upload(key);
    const real = h.deps.stores.jobs;
    const lostAnswer = Object.assign(Object.create(Object.getPrototypeOf(real)), real, {
      create: async (job: Parameters<typeof real.create>[0]) => {
        await real.create(job);
        return false; // what the retried conditional put reports
      },
    });
    const app = createApp({ ...h.deps, stores: { ...h.deps.stores, jobs: lostAnswer } });
    const res = await app.request("/v1/generations", { method: "POST", headers: { authorization: `Bearer ${key}`, "content-type": "application/json" }, body: JSON.stringify(dog(photo)) });
    expect(res.status).toBe(202);
    const { id } = (await res.json()) as { id: string };
    expect(await h.deps.stores.jobs.get(keyId, id)).toMatchObject({ status: "queued" });
    expect((await h.drainQueue()).map((m) => m.jobId)).toEqual([id]);
    expect((await h.call("GET", "/v1/usage", { key })).body.images).toEqual({ used: 0, limit: 1, reserved: 1 });
  });

  it("masks unexpected errors as internal_error and logs them redacted", async () => {
    const { key } = await h.newKey();
    const failingUsage = Object.assign(Object.create(Object.getPrototypeOf(h.deps.stores.usage)), h.deps.stores.usage, {
      summary: async () => {
        throw new Error(`dynamo exploded near ${key}`);
      },
    });
    const logs: string[] = [];
    const broken = createApp({ ...h.deps, stores: { ...h.deps.stores, usage: failingUsage }, log: (l) => logs.push(l) });
    const res = await broken.request("/v1/usage", { headers: { authorization: `Bearer ${key}` } });
    expect(res.status).toBe(500);
    const text = await res.text();
    expect(JSON.parse(text)).toMatchObject({ error: { code: "internal_error", requestId: res.headers.get("x-request-id") } });
    expect(text).not.toContain("exploded");
    const line = JSON.parse(logs[0]);
    expect(line).toMatchObject({ level: "error", status: 500 });
    expect(line.error).toContain("dynamo exploded");
    expect(line.error).not.toContain(key.split(".")[1]);
  });
});
