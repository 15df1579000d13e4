import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { QueueMessageSchema } from "@troupe/shared/contracts/queue-message";
import { createApp } from "../../functions/src/app.ts";
import { startHarness, type Harness } from "./support/harness.ts";

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => h?.stop());

const dog = (uploadId: string, extra: Record<string, unknown> = {}) => ({ prompt: "a dog img on a beach", subjects: [{ uploadId }], ...extra });

describe("idempotency under concurrency and failure", () => {
  it("gives concurrent requests with one key one job and exactly one message", async () => {
    const { key } = await h.newKey();
    const photo = await h.upload(key);
    const headers = { "idempotency-key": "burst-1" };
    const results = await Promise.all(Array.from({ length: 8 }, () => h.call("POST", "/v1/generations", { key, headers, body: dog(photo) })));
    const ok = results.filter((r) => r.status === 202);
    expect(ok.length).toBeGreaterThanOrEqual(1);
    expect(new Set(ok.map((r) => r.body.id)).size).toBe(1);
    // The others are replays or "still in progress" (409), never a second job.
    for (const r of results.filter((r) => r.status !== 202)) expect(r.body.error.code).toBe("idempotency_conflict");
    expect((await h.drainQueue()).filter((m) => m.jobId === ok[0].body.id)).toHaveLength(1);
    const usage = await h.call("GET", "/v1/usage", { key });
    expect(usage.body.images.reserved).toBe(1);
    expect(usage.body.jobs.submitted).toBe(1);
  });

  it("never answers a replay with quota_exceeded when the original took the last image", async () => {
    const { key } = await h.newKey({ monthlyImages: 1 });
    const photo = await h.upload(key);
    const headers = { "idempotency-key": "last-image" };
    const results = await Promise.all(Array.from({ length: 6 }, () => h.call("POST", "/v1/generations", { key, headers, body: dog(photo) })));
    expect(results.map((r) => r.body.error?.code).filter((c) => c === "quota_exceeded")).toEqual([]);
    await h.drainQueue();
  });

  it("leaves no claim behind when the request is refused, so the key can be used again", async () => {
    const { key } = await h.newKey({ monthlyImages: 1 });
    const photo = await h.upload(key);
    const headers = { "idempotency-key": "refused-first" };
    expect((await h.call("POST", "/v1/generations", { key, headers, body: dog(photo, { numImages: 2 }) })).status).toBe(429);
    expect((await h.call("POST", "/v1/generations", { key, headers, body: dog(photo) })).status).toBe(202);
    await h.drainQueue();
  });

  it("leaves no claim behind when the request fails validation", async () => {
    const { key } = await h.newKey();
    const photo = await h.upload(key);
    const headers = { "idempotency-key": "invalid-first" };
    const refused = await h.call("POST", "/v1/generations", { key, headers, body: dog("upl_0000000000000") });
    expect(refused).toMatchObject({ status: 422, body: { error: { code: "unknown_upload" } } });
    expect((await h.call("POST", "/v1/generations", { key, headers, body: dog(photo) })).status).toBe(202);
    await h.drainQueue();
  });

  it("completes a request that crashed after claiming its key, reserving its images once", async () => {
    const { key, keyId } = await h.newKey({ monthlyImages: 1 });
    const photo = await h.upload(key);
    const headers = { authorization: `Bearer ${key}`, "content-type": "application/json", "idempotency-key": "crashed" };
    // A "crash" right after the claim: the reservation fails and the claim is not given back.
    const failing = <T extends object>(store: T, method: string) =>
      Object.assign(Object.create(Object.getPrototypeOf(store)), store, {
        [method]: async () => {
          throw new Error("process died");
        },
      }) as T;
    const { usage, idempotency } = h.deps.stores;
    const crashed = createApp({ ...h.deps, stores: { ...h.deps.stores, usage: failing(usage, "reserve"), idempotency: failing(idempotency, "forget") } });
    expect((await crashed.request("/v1/generations", { method: "POST", headers, body: JSON.stringify(dog(photo)) })).status).toBe(500);

    // While the claim is young, a retry is told to wait; once it is old, the retry completes the job.
    const retry = () => h.call("POST", "/v1/generations", { key, headers: { "idempotency-key": "crashed" }, body: dog(photo) });
    expect((await retry()).body.error.code).toBe("idempotency_conflict");
    h.setNow(Date.now() + 31_000);
    try {
      const done = await retry();
      expect(done.status).toBe(202);
      expect((await retry()).body.id).toBe(done.body.id);
    } finally {
      h.setNow(undefined);
    }
    expect(await h.countJobs(keyId)).toBe(1);
    expect((await h.call("GET", "/v1/usage", { key })).body.images.reserved).toBe(1);
    expect(await h.drainQueue()).toHaveLength(1);
  });

  it("gives the reservation and the claim back when recording the job fails", async () => {
    const { key } = await h.newKey({ monthlyImages: 1 });
    const photo = await h.upload(key);
    const jobs = h.deps.stores.jobs;
    const failing = Object.assign(Object.create(Object.getPrototypeOf(jobs)), jobs, {
      create: async () => {
        throw new Error("dynamo hiccup");
      },
    });
    const broken = createApp({ ...h.deps, stores: { ...h.deps.stores, jobs: failing } });
    const headers = { authorization: `Bearer ${key}`, "content-type": "application/json", "idempotency-key": "create-fails" };
    const res = await broken.request("/v1/generations", { method: "POST", headers, body: JSON.stringify(dog(photo)) });
    expect(res.status).toBe(500);
    const retry = await h.call("POST", "/v1/generations", { key, headers: { "idempotency-key": "create-fails" }, body: dog(photo) });
    expect(retry.status).toBe(202);
    expect((await h.call("GET", "/v1/usage", { key })).body.images.reserved).toBe(1);
    await h.drainQueue();
  });

  it("treats the model's default size, sent or omitted, as the same request", async () => {
    const { key } = await h.newKey();
    const photo = await h.upload(key);
    const headers = { "idempotency-key": "defaults" };
    const first = await h.call("POST", "/v1/generations", { key, headers, body: dog(photo) });
    const again = await h.call("POST", "/v1/generations", { key, headers, body: dog(photo, { width: 128, height: 128 }) });
    expect(again.body).toMatchObject({ id: first.body.id });
    await h.drainQueue();
  });

  it("queues prompts with characters outside the basic plane, such as emoji", async () => {
    const { key } = await h.newKey();
    const photo = await h.upload(key);
    const res = await h.call("POST", "/v1/generations", { key, body: dog(photo, { prompt: "a dog img holding a 🍕 in Zürich" }) });
    expect(res.status).toBe(202);
    const [message] = (await h.drainQueue()).filter((m) => m.jobId === res.body.id);
    expect(QueueMessageSchema.parse(message).spec.prompt).toBe("a dog img holding a 🍕 in Zürich");
  });
});
