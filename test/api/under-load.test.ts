import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ApiKeyStore } from "@troupe/shared/records/api-keys";
import { createApp } from "../../functions/src/app.ts";
import { createDeps } from "../../functions/src/deps.ts";
import { waitFor } from "../support/wait-for.ts";
import { startHarness, type Harness } from "./support/harness.ts";

// The guarantees of the hot path (issue 13) with many requests in flight at once: the parallel
// reads, the batched rate limiter and the key cache must not weaken any conditional write.

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => h?.stop());

const BURST = 50;
const dog = (uploadId: string) => ({ prompt: "a dog img on a beach", subjects: [{ uploadId }] });

describe("50 concurrent submissions", () => {
  it("admit exactly the quota at its edge, and refuse the rest with quota_exceeded", async () => {
    const { key, keyId } = await h.newKey({ monthlyImages: 7 });
    const photo = await h.upload(key);
    const results = await Promise.all(Array.from({ length: BURST }, () => h.call("POST", "/v1/generations", { key, body: dog(photo) })));
    expect(results.filter((r) => r.status === 202)).toHaveLength(7);
    const refused = results.filter((r) => r.status !== 202);
    expect(new Set(refused.map((r) => r.body.error.code))).toEqual(new Set(["quota_exceeded"]));
    expect(await h.countJobs(keyId)).toBe(7);
    expect(await h.drainQueue()).toHaveLength(7);
    const usage = await h.call("GET", "/v1/usage", { key });
    expect(usage.body.images).toMatchObject({ reserved: 7, limit: 7 });
    expect(usage.body.jobs.submitted).toBe(7);
  });

  it("with one Idempotency-Key make exactly one job and one message", async () => {
    const { key, keyId } = await h.newKey();
    const photo = await h.upload(key);
    const headers = { "idempotency-key": "burst-of-fifty" };
    const results = await Promise.all(Array.from({ length: BURST }, () => h.call("POST", "/v1/generations", { key, headers, body: dog(photo) })));
    const ok = results.filter((r) => r.status === 202);
    expect(ok.length).toBeGreaterThanOrEqual(1);
    expect(new Set(ok.map((r) => r.body.id)).size).toBe(1);
    // The others are replays or "still in progress" (409), never a second job.
    for (const r of results.filter((r) => r.status !== 202)) expect(r.body.error.code).toBe("idempotency_conflict");
    expect(await h.countJobs(keyId)).toBe(1);
    expect((await h.drainQueue()).map((m) => m.jobId)).toEqual([ok[0].body.id]);
    expect((await h.call("GET", "/v1/usage", { key })).body.images.reserved).toBe(1);
  });
});

describe("the verified-key cache", () => {
  it("stops a key revoked elsewhere within TROUPE_KEY_CACHE_TTL_MS", async () => {
    // An API instance with a short TTL, and the keys CLI's own store (another process: no shared cache).
    const deps = await createDeps({ ...h.deps.config, TROUPE_KEY_CACHE_TTL_MS: 300 }, { clients: h.t.clients, model: h.deps.model, queueUrl: h.deps.queueUrl, log: () => {} });
    const app = createApp(deps);
    const cli = new ApiKeyStore(h.t.clients.ddb, h.deps.config.TROUPE_KEYS_TABLE);
    const { key, keyId } = await h.newKey();
    const usage = async () => (await app.request("/v1/usage", { headers: { authorization: `Bearer ${key}` } })).status;
    expect(await usage()).toBe(200);

    expect(await cli.revoke(keyId)).toBe(true);
    await waitFor(async () => (await usage()) === 401, { timeoutMs: 10_000, what: "the revoked key to be refused" });
    expect(await usage()).toBe(401);
  });

  it("trusts a cached key until the TTL has passed, then reads it again", async () => {
    let now = Date.UTC(2030, 5, 1, 12, 0, 0);
    const deps = await createDeps({ ...h.deps.config, TROUPE_KEY_CACHE_TTL_MS: 30_000 }, { clients: h.t.clients, model: h.deps.model, queueUrl: h.deps.queueUrl, log: () => {}, now: () => now });
    const app = createApp(deps);
    const cli = new ApiKeyStore(h.t.clients.ddb, h.deps.config.TROUPE_KEYS_TABLE);
    const { key, keyId } = await h.newKey();
    const usage = async () => (await app.request("/v1/usage", { headers: { authorization: `Bearer ${key}` } })).status;
    expect(await usage()).toBe(200);
    await cli.revoke(keyId);
    now += 29_000; // within the TTL: this instance has not read the key again
    expect(await usage()).toBe(200);
    now += 1_001; // past it: the next request reads the revoked record
    expect(await usage()).toBe(401);
  });

  it("applies a revocation made through the API's own store at once", async () => {
    const { key, keyId } = await h.newKey();
    expect((await h.call("GET", "/v1/usage", { key })).status).toBe(200);
    await h.deps.stores.keys.revoke(keyId);
    expect((await h.call("GET", "/v1/usage", { key })).status).toBe(401);
  });
});
