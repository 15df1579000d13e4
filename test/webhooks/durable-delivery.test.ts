import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { newId } from "@troupe/shared/ids";
import { enqueueDelivery, resolveWebhookQueueUrl } from "@troupe/shared/webhooks/delivery-queue";
import { verifyWebhook } from "@troupe/shared/webhooks/sign";
import { newOutbox, type JobRecord } from "@troupe/shared/records";
import { startTestEnv, type TestEnv } from "../../local/test-env.ts";
import { storesFor, tinySpec } from "../support/seed-jobs.ts";
import { waitFor } from "../support/wait-for.ts";
import { Receiver } from "./support/receiver.ts";
import { startSender, type SenderProcess } from "./support/sender-process.ts";

// The sender as its own process against real emulators: what survives is what SQS and the job
// record hold, never a process's memory. Schedules are shortened with TROUPE_WEBHOOK_SCHEDULE.
let t: TestEnv;
let queueUrl: string;
const senders: SenderProcess[] = [];
const receiver = new Receiver();

beforeAll(async () => {
  t = await startTestEnv();
  queueUrl = (await resolveWebhookQueueUrl(t.clients.sqs, t.config))!;
  await receiver.up();
});
afterEach(async () => {
  for (const s of senders.splice(0)) {
    s.child.kill("SIGKILL");
    await s.exited;
  }
  receiver.respond = () => ({ status: 204 });
  if (!receiver.port) await receiver.up();
});
afterAll(async () => {
  await receiver.down();
  await t?.stop();
});

const sender = async (schedule: string) => {
  const s = await startSender({ ...t.env, TROUPE_WEBHOOK_SCHEDULE: schedule, TROUPE_SWEEP_INTERVAL_S: "3600", TROUPE_WEBHOOK_TIMEOUT_MS: "2000" });
  senders.push(s);
  return s;
};

/** A job that just succeeded, as the runner leaves it: outbox written with the transition, message sent. */
async function finishedJob(): Promise<{ job: JobRecord; secret: string }> {
  const { record: key } = await storesFor(t).keys.create({ name: "hooks", monthlyImages: 10, ratePerMinute: 60 });
  const now = Date.now();
  const job: JobRecord = {
    tenantId: key.keyId,
    id: newId("gen"),
    status: "succeeded",
    spec: tinySpec({ webhookUrl: receiver.url }),
    createdAt: new Date(now).toISOString(),
    finishedAt: new Date(now).toISOString(),
    progress: { step: 10, totalSteps: 10 },
    quotaPeriod: "2026-01",
    webhook: newOutbox({ webhookUrl: receiver.url }, "succeeded", now),
  };
  await storesFor(t).jobs.create(job);
  await enqueueDelivery(t.clients.sqs, queueUrl, { tenantId: job.tenantId, jobId: job.id });
  return { job, secret: key.webhookSecret };
}

const outbox = async (job: JobRecord) => (await storesFor(t).jobs.get(job.tenantId, job.id))!.webhook!;
const settledOutbox = (job: JobRecord) =>
  waitFor(async () => {
    const w = await outbox(job);
    return w.state !== "pending" ? w : null;
  }, { what: `delivery of ${job.id} settled`, timeoutMs: 60_000 });
const forJob = (job: JobRecord) => receiver.received.filter((d) => d.headers["webhook-id"] === `${job.id}_succeeded`);

describe("durable webhook deliveries", () => {
  it("keeps trying while the receiver is down and delivers once it is back", async () => {
    await receiver.down();
    await sender("1s,1s,1s,1s,1s,1s,1s,1s");
    const { job, secret } = await finishedJob();
    await waitFor(async () => (await outbox(job)).log.length >= 2, { what: "two failed attempts", timeoutMs: 30_000 });
    await receiver.up();

    const w = await settledOutbox(job);
    expect(w.state).toBe("delivered");
    const failed = w.log.slice(0, -1);
    expect(failed.length).toBeGreaterThanOrEqual(2);
    for (const a of failed) expect(a).toMatchObject({ status: null, error: expect.stringContaining("ECONNREFUSED") });
    expect(w.log.at(-1)).toMatchObject({ status: 204, error: null, attempt: w.log.length, redelivery: 0 });
    expect(w.log.map((a) => a.attempt)).toEqual(w.log.map((_, i) => i + 1));

    const [delivered] = forJob(job);
    expect(verifyWebhook(secret, delivered.headers, delivered.body)).toBe(true);
    expect(JSON.parse(delivered.body)).toMatchObject({ id: job.id, status: "succeeded" });
  });

  it("survives the sender being killed mid-retry: another sender process delivers it", async () => {
    receiver.respond = () => ({ status: 500 });
    const first = await sender("2s,2s,2s");
    const { job, secret } = await finishedJob();
    await waitFor(async () => (await outbox(job)).log.length === 1, { what: "first attempt failed", timeoutMs: 30_000 });
    first.child.kill("SIGKILL");
    await first.exited;

    receiver.respond = () => ({ status: 200 });
    const second = await sender("2s,2s,2s");
    const w = await settledOutbox(job);
    expect(w.state).toBe("delivered");
    expect(w.log.map((a) => a.status)).toEqual([500, 200]);
    // The record is written before the sender logs, and its stdout arrives through a pipe: poll for the line.
    await waitFor(() => second.events.some((e) => e.event === "webhook_delivered" && e.webhookId === `${job.id}_succeeded`), {
      what: "the second sender's webhook_delivered line",
    });
    const got = forJob(job);
    expect(got.map((d) => d.status)).toEqual([500, 200]);
    expect(new Set(got.map((d) => d.headers["webhook-id"])).size).toBe(1);
    for (const d of got) expect(verifyWebhook(secret, d.headers, d.body)).toBe(true);
  });

  it("records a permanent failure after the last attempt, and honours Retry-After on a 503", async () => {
    receiver.respond = () => ({ status: 503, headers: { "retry-after": "2" } });
    await sender("1s,1s");
    const { job } = await finishedJob();
    const w = await settledOutbox(job);
    expect(w.state).toBe("failed");
    expect(w.log.map((a) => [a.attempt, a.status, a.error])).toEqual([
      [1, 503, "HTTP 503"],
      [2, 503, "HTTP 503"],
      [3, 503, "HTTP 503"],
    ]);
    // The schedule said ≈1 s; the receiver asked for 2 s, so no attempt came sooner.
    const starts = w.log.map((a) => Date.parse(a.at));
    expect(starts[1] - starts[0]).toBeGreaterThanOrEqual(2000);
    expect(starts[2] - starts[1]).toBeGreaterThanOrEqual(2000);
    expect(forJob(job)).toHaveLength(3);
  });
});
