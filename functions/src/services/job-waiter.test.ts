import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { newId } from "@troupe/shared/ids";
import { JobStore, type JobRecord } from "@troupe/shared/records/jobs";
import { startTestEnv, type TestEnv } from "../../../local/test-env.ts";
import { tinySpec } from "../../../test/support/seed-jobs.ts";
import { waitFor } from "../../../test/support/wait-for.ts";
import { JobWaiter } from "./job-waiter.ts";

let t: TestEnv;
let jobs: JobStore;
/** Every BatchGetItem the waiter sends, as the keys it asked for (counted on the real client). */
const batches: string[][] = [];

beforeAll(async () => {
  t = await startTestEnv();
  jobs = new JobStore(t.clients.ddb, t.config.TROUPE_JOBS_TABLE);
  t.clients.ddb.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName === "BatchGetItemCommand") {
        const items = (args.input as { RequestItems: Record<string, { Keys: { id: string }[] }> }).RequestItems;
        batches.push(Object.values(items).flatMap((r) => r.Keys.map((k) => k.id)));
      }
      return next(args);
    },
    { step: "initialize", name: "countBatchGets" },
  );
});
afterAll(async () => t?.stop());

async function queuedJob(tenantId = "key_waiter"): Promise<JobRecord> {
  const record: JobRecord = {
    tenantId,
    id: newId("gen"),
    status: "queued",
    spec: tinySpec(),
    createdAt: new Date().toISOString(),
    progress: { step: 0, totalSteps: 10 },
    quotaPeriod: "2026-01",
  };
  await jobs.create(record);
  return record;
}

const waiterFor = () => new JobWaiter({ ddb: t.clients.ddb, table: t.config.TROUPE_JOBS_TABLE, firstDelayMs: 10, maxDelayMs: 40 });

describe("JobWaiter", () => {
  it("reads every waiting job in one batch per tick, shares reads of the same job and settles each as it ends", async () => {
    batches.length = 0;
    const waiter = waiterFor();
    const [a, b] = [await queuedJob(), await queuedJob()];
    const waits = [waiter.wait(a, 30_000), waiter.wait(a, 30_000), waiter.wait(b, 30_000)];
    expect(waiter.size).toBe(3);

    // Let a few ticks pass with both still queued: each batch asks for both jobs once.
    const ticksBefore = await waitFor(() => (batches.length >= 2 ? batches.length : 0), { what: "two batch reads", intervalMs: 5 });
    for (const keys of batches.slice(0, ticksBefore)) expect([...keys].sort()).toEqual([a.id, b.id].sort());

    await jobs.transition(a.tenantId, a.id, ["queued"], "succeeded", { finishedAt: new Date().toISOString() });
    const [first, second] = await Promise.all(waits.slice(0, 2));
    expect(first?.status).toBe("succeeded");
    expect(second?.status).toBe("succeeded");
    expect(waiter.size).toBe(1);

    await jobs.transition(b.tenantId, b.id, ["queued"], "canceled", { finishedAt: new Date().toISOString() });
    expect((await waits[2])?.status).toBe("canceled");
    expect(waiter.size).toBe(0);
    // Nothing waits: no timer, no further reads.
    const settledAt = batches.length;
    await jobs.get(b.tenantId, b.id);
    expect(batches.length).toBe(settledAt);
  });

  it("reads jobs registered a moment apart in the same batch", async () => {
    batches.length = 0;
    let skew = 0;
    const waiter = new JobWaiter({ ddb: t.clients.ddb, table: t.config.TROUPE_JOBS_TABLE, firstDelayMs: 10, maxDelayMs: 40, now: () => Date.now() + skew });
    const [a, b] = [await queuedJob(), await queuedJob()];
    const waits = [waiter.wait(a, 150)];
    // b registers as if 3 ms after a (the clock ticked between two requests): due 3 ms after a, read in a's tick all the same.
    skew = 3;
    waits.push(waiter.wait(b, 150));
    skew = 0;
    await waitFor(() => batches.length >= 1, { what: "the first batch read", intervalMs: 5 });
    expect([...batches[0]].sort()).toEqual([a.id, b.id].sort());
    await Promise.all(waits);
  });

  it("answers with the job as it stands when the wait runs out", async () => {
    const waiter = waiterFor();
    const job = await queuedJob();
    const latest = await waiter.wait(job, 150);
    expect(latest.status).toBe("queued");
    expect(latest.id).toBe(job.id);
    expect(waiter.size).toBe(0);
  });

  it("does not read at all for a job that has already ended", async () => {
    batches.length = 0;
    const done = { ...(await queuedJob()), status: "succeeded" as const };
    expect(await waiterFor().wait(done, 5000)).toBe(done);
    expect(batches).toEqual([]);
  });
});
