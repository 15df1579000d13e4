import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GetCommand } from "@aws-sdk/lib-dynamodb";
import { UsageStore } from "@troupe/shared/records/usage";
import { BatchedRateLimiter } from "../../functions/src/services/rate-limiter.ts";
import { startTestEnv, type TestEnv } from "../../local/test-env.ts";
import { waitFor } from "../support/wait-for.ts";

// The batched rate limiter over the real shared counter (dynalite): exact on one instance, within
// `limit + instances × batch` on several, and one DynamoDB write per batch rather than per request.

let t: TestEnv;
let usage: UsageStore;
let writes = 0;
beforeAll(async () => {
  t = await startTestEnv();
  const store = new UsageStore(t.clients.ddb, t.config.TROUPE_USAGE_TABLE);
  // The real store, with its writes counted.
  usage = Object.assign(Object.create(UsageStore.prototype), store, {
    addHits: (...args: Parameters<UsageStore["addHits"]>) => {
      writes++;
      return store.addHits(...args);
    },
  });
});
afterAll(async () => t?.stop());

const NOW = Date.UTC(2030, 0, 1, 12, 0, 10); // 50 s left in the minute: no window change mid-test
const minute = Math.floor(NOW / 60_000);
const shared = async (keyId: string) =>
  Number((await t.clients.ddb.send(new GetCommand({ TableName: t.config.TROUPE_USAGE_TABLE, Key: { pk: `${keyId}#rate`, sk: `rate#${minute}` }, ConsistentRead: true }))).Item?.hits ?? 0);

describe("BatchedRateLimiter", () => {
  it("admits exactly the limit on one instance, says when to retry, and writes once per batch", async () => {
    // A long interval: only full batches are written, so the count of writes is exact.
    const limiter = new BatchedRateLimiter({ usage, batch: 5, intervalMs: 60_000 });
    writes = 0;
    const waits = await Promise.all(Array.from({ length: 60 }, () => limiter.hit("key-one", 40, NOW)));
    expect(waits.filter((w) => w === 0)).toHaveLength(40);
    expect(new Set(waits.filter((w) => w > 0))).toEqual(new Set([50]));
    await waitFor(async () => (await shared("key-one")) === 40, { what: "the shared counter to hold every admitted hit" });
    // The effective batch is min(5, limit / 10) = 4: one write per 4 admitted hits.
    expect(writes).toBe(40 / 4);
  });

  it("keeps several instances sharing a key within limit + instances × batch", async () => {
    const instances = [0, 1, 2].map(() => new BatchedRateLimiter({ usage, batch: 5, intervalMs: 20 }));
    let admitted = 0;
    // Waves of requests spread over the instances, as a load balancer would.
    for (let wave = 0; wave < 20; wave++) {
      const waits = await Promise.all(instances.flatMap((limiter) => Array.from({ length: 4 }, () => limiter.hit("key-many", 60, NOW))));
      admitted += waits.filter((w) => w === 0).length;
    }
    expect(admitted).toBeGreaterThanOrEqual(60);
    expect(admitted).toBeLessThanOrEqual(60 + 3 * 5);
    await waitFor(async () => (await shared("key-many")) === admitted, { what: "the shared counter to hold every admitted hit" });
  });

  it("decides on its own count while the shared counter cannot be reached", async () => {
    const unreachable = new UsageStore(t.clients.ddb, "no-such-table");
    const limiter = new BatchedRateLimiter({ usage: unreachable, batch: 1, intervalMs: 60_000 });
    const waits = [];
    for (let i = 0; i < 4; i++) waits.push(await limiter.hit("key-down", 3, NOW));
    expect(waits).toEqual([0, 0, 0, 50]);
  });

  it("starts a new window each minute", async () => {
    const limiter = new BatchedRateLimiter({ usage, batch: 10, intervalMs: 50 });
    expect(await limiter.hit("key-next", 1, NOW)).toBe(0);
    expect(await limiter.hit("key-next", 1, NOW)).toBe(50);
    expect(await limiter.hit("key-next", 1, NOW + 50_000)).toBe(0);
  });
});
