import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestEnv, type TestEnv } from "../../../local/test-env.ts";
import { ApiKeyStore } from "./api-keys.ts";
import { JobStore, type JobRecord } from "./jobs.ts";
import { UsageStore, usagePeriod } from "./usage.ts";
import { IdempotencyStore } from "./idempotency.ts";
import { newId } from "../ids.ts";

let t: TestEnv;
beforeAll(async () => {
  t = await startTestEnv();
});
afterAll(async () => t?.stop());

const spec = { prompt: "a man img", negativePrompt: "", subjects: [{ uploadId: "upl_0000000000" }], numImages: 1, steps: 10, guidanceScale: 5, alpha: 0.7, scheduler: "pndm" as const, seed: 1, width: 128, height: 128 };
const job = (tenantId: string): JobRecord => ({ tenantId, id: newId("gen"), status: "queued", spec, createdAt: new Date().toISOString(), progress: { step: 0, totalSteps: 10 }, quotaPeriod: usagePeriod() });

describe("records against dynalite", () => {
  it("verifies a key by hash and refuses revoked, unknown and malformed keys", async () => {
    const keys = new ApiKeyStore(t.clients.ddb, t.config.TROUPE_KEYS_TABLE);
    const { key, record } = await keys.create({ name: "a", monthlyImages: 5, ratePerMinute: 10 });
    expect((await keys.verify(key))?.keyId).toBe(record.keyId);
    expect(await keys.verify(key.slice(0, -1) + (key.endsWith("A") ? "B" : "A"))).toBeNull();
    expect(await keys.verify("nonsense")).toBeNull();
    expect(await keys.revoke(record.keyId)).toBe(true);
    expect(await keys.verify(key)).toBeNull();
    expect(await keys.revoke("key_missing")).toBe(false);
  });

  it("moves a job only forward, once", async () => {
    const jobs = new JobStore(t.clients.ddb, t.config.TROUPE_JOBS_TABLE);
    const j = job("tenant-a");
    expect(await jobs.create(j)).toBe(true);
    expect(await jobs.create(j)).toBe(false);
    expect((await jobs.transition("tenant-a", j.id, ["queued"], "running"))?.status).toBe("running");
    expect(await jobs.transition("tenant-a", j.id, ["queued"], "running")).toBeNull();
    expect((await jobs.transition("tenant-a", j.id, ["running"], "succeeded", { finishedAt: "x" }))?.finishedAt).toBe("x");
    expect(await jobs.transition("tenant-a", j.id, ["queued", "running"], "canceled")).toBeNull();
    expect(await jobs.get("tenant-b", j.id)).toBeNull();
  });

  it("lists newest first with a cursor", async () => {
    const jobs = new JobStore(t.clients.ddb, t.config.TROUPE_JOBS_TABLE);
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const j = { ...job("tenant-list"), id: newId("gen", Date.now() + i) };
      ids.push(j.id);
      await jobs.create(j);
    }
    const first = await jobs.list("tenant-list", 3);
    expect(first.items.map((j) => j.id)).toEqual(ids.slice().reverse().slice(0, 3));
    const second = await jobs.list("tenant-list", 3, first.nextCursor!);
    expect(second.items.map((j) => j.id)).toEqual(ids.slice().reverse().slice(3));
  });

  it("fills a page past deleted jobs, so no page is short while more jobs follow", async () => {
    const jobs = new JobStore(t.clients.ddb, t.config.TROUPE_JOBS_TABLE);
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) {
      const j = { ...job("tenant-tombstones"), id: newId("gen", Date.now() + i), ...(i >= 2 && i <= 4 ? { deletedAt: new Date().toISOString() } : {}) };
      if (!j.deletedAt) ids.push(j.id);
      await jobs.create(j);
    }
    const first = await jobs.list("tenant-tombstones", 2);
    expect(first.items.map((j) => j.id)).toEqual(ids.slice().reverse().slice(0, 2));
    const second = await jobs.list("tenant-tombstones", 2, first.nextCursor!);
    expect(second.items.map((j) => j.id)).toEqual(ids.slice().reverse().slice(2));
  });

  it("never over-admits quota under concurrent reservations and gives it back", async () => {
    const usage = new UsageStore(t.clients.ddb, t.config.TROUPE_USAGE_TABLE);
    const period = usagePeriod();
    const results = await Promise.all(Array.from({ length: 12 }, () => usage.reserve("tenant-q", period, 1, 5)));
    expect(results.filter(Boolean)).toHaveLength(5);
    await usage.release("tenant-q", period, 1, "failed");
    expect(await usage.reserve("tenant-q", period, 1, 5)).toBe(true);
    expect(await usage.reserve("tenant-q", period, 1, 5)).toBe(false);
    expect(await usage.record("tenant-q", period, "gen_x", 1, 2.5)).toBe(true);
    expect(await usage.record("tenant-q", period, "gen_x", 1, 2.5)).toBe(false);
    const s = await usage.summary("tenant-q", period, 5);
    expect(s.images).toEqual({ used: 1, reserved: 5, limit: 5 });
    expect(s.jobs).toMatchObject({ submitted: 6, succeeded: 1, failed: 1 });
  });

  it("admits requests up to the per-minute limit", async () => {
    const usage = new UsageStore(t.clients.ddb, t.config.TROUPE_USAGE_TABLE);
    const now = Date.UTC(2026, 0, 1, 0, 0, 30);
    const waits = await Promise.all(Array.from({ length: 5 }, () => usage.hit("tenant-r", 3, now)));
    expect(waits.filter((w) => w === 0)).toHaveLength(3);
    expect(Math.max(...waits)).toBe(30);
  });

  it("lets the first idempotency claim win", async () => {
    const idem = new IdempotencyStore(t.clients.ddb, t.config.TROUPE_JOBS_TABLE);
    expect(await idem.claim("tenant-i", "k1", "h1", "gen_1", "2026-11")).toEqual({ won: true });
    const again = await idem.claim("tenant-i", "k1", "h2", "gen_2", "2026-11");
    expect(again.won).toBe(false);
    if (!again.won) expect(again.existing).toMatchObject({ requestHash: "h1", jobId: "gen_1" });
    expect(await idem.claim("tenant-j", "k1", "h2", "gen_3", "2026-11")).toEqual({ won: true });
  });
});
