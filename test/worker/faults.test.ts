import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ListObjectsV2Command } from "@aws-sdk/client-s3";
import { SendMessageCommand } from "@aws-sdk/client-sqs";
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startTestEnv, type TestEnv } from "../../local/test-env.ts";
import { ensureTinyBundle } from "../../gpu-runner/src/bundle/tiny-bundle.ts";
import { startRunner, type RunnerProcess } from "../support/runner-process.ts";
import { seedJob, seedMessageFirst, storesFor, tinySpec } from "../support/seed-jobs.ts";
import { waitFor } from "../support/wait-for.ts";
import { usagePeriod } from "@troupe/shared/records";
import { asciiJson, toQueueMessage } from "@troupe/shared/jobs/dispatch";

let t: TestEnv;
let env: Record<string, string>;
const runners: RunnerProcess[] = [];

beforeAll(async () => {
  const bundle = await ensureTinyBundle();
  t = await startTestEnv({ bundle, maxReceiveCount: 10, visibilityTimeoutS: 2 });
  env = { ...t.env, TROUPE_VISIBILITY_TIMEOUT_S: "2", TROUPE_PROGRESS_INTERVAL_MS: "50", TROUPE_SWEEP_INTERVAL_S: "1" };
});
afterEach(async () => {
  for (const r of runners.splice(0)) {
    r.kill("SIGKILL");
    await r.exited;
  }
});
afterAll(async () => t?.stop());

const runner = async (extra: Record<string, string> = {}) => {
  const r = await startRunner({ ...env, ...extra });
  runners.push(r);
  return r;
};
const job = (tenantId: string, id: string) => storesFor(t).jobs.get(tenantId, id);
const listOutputs = async (tenantId: string, jobId: string) =>
  ((await t.clients.s3.send(new ListObjectsV2Command({ Bucket: t.config.TROUPE_BUCKET, Prefix: `outputs/${tenantId}/${jobId}/` }))).Contents ?? []).map((o) => o.Key);

describe("runner faults", () => {
  it("survives SIGKILL mid-job, again and again: one success, one usage record, one set of outputs", async () => {
    const seeded = await seedJob(t, "tenant-kill", tinySpec({ steps: 150, numImages: 2 }));
    for (let kill = 0; kill < 3; kill++) {
      const r = await runner();
      await waitFor(async () => {
        const j = await job("tenant-kill", seeded.id);
        return j?.status === "running" && j.attempts === kill + 1 && j.progress.step > 0;
      }, { what: `attempt ${kill + 1} running`, timeoutMs: 30_000 });
      r.kill("SIGKILL");
      await r.exited;
    }
    await runner();
    const done = await waitFor(async () => {
      const j = await job("tenant-kill", seeded.id);
      return j?.status === "succeeded" ? j : null;
    }, { what: "success after kills", timeoutMs: 60_000 });
    expect(done.attempts).toBe(4);
    expect(done.outputs).toHaveLength(2);
    expect((await listOutputs("tenant-kill", seeded.id)).sort()).toEqual(
      [0, 1].map((n) => `outputs/tenant-kill/${seeded.id}/${n}.png`).concat([0, 1].map((s) => `outputs/tenant-kill/${seeded.id}/attention-${s}.png`)).sort(),
    );
    // Usage is recorded right after the transition: poll for it, then check it was counted once.
    const usage = await waitFor(async () => {
      const u = await storesFor(t).usage.summary("tenant-kill", usagePeriod(), 1000);
      return u.images.used > 0 && u.jobs.succeeded > 0 ? u : null;
    }, { what: "usage recorded" });
    expect(usage.images.used).toBe(2);
    expect(usage.jobs.succeeded).toBe(1);
  });

  it("defers a duplicate message while another runner holds the job: never two runs at once", async () => {
    const both = [await runner(), await runner()];
    const seeded = await seedJob(t, "tenant-dup", tinySpec({ steps: 150, numImages: 2 }));
    await waitFor(async () => ((await job("tenant-dup", seeded.id))?.progress.step ?? 0) > 0, { what: "running" });
    // The idle runner receives the duplicate while the other one holds the job's lease.
    await t.clients.sqs.send(new SendMessageCommand({ QueueUrl: t.config.TROUPE_QUEUE_URL!, MessageBody: asciiJson(toQueueMessage(seeded)) }));
    const done = await waitFor(async () => {
      const j = await job("tenant-dup", seeded.id);
      return j?.status === "succeeded" ? j : null;
    }, { what: "succeeded" });
    const events = both.flatMap((r) => r.events);
    expect(events.some((e) => e.event === "message_deferred")).toBe(true);
    expect(events.filter((e) => e.event === "job_started")).toHaveLength(1);
    expect(done.attempts).toBe(1);
  });

  it("runs a job whose message arrives before its record (the API sends first), once the record lands, as the record says", async () => {
    const r = await runner({ TROUPE_RECORD_GRACE_S: "5" });
    const early = await seedMessageFirst(t, "tenant-early", tinySpec({ steps: 5, numImages: 2 }));
    // The runner holds the message and finds no record; only then is the record written, by "another
    // request" whose spec differs (one image): the record's spec is the one that runs.
    await waitFor(() => r.events.some((e) => e.event === "record_pending" && e.jobId === early.record.id), { what: "the runner waiting for the record" });
    await early.writeRecord({ numImages: 1 });
    const done = await waitFor(async () => {
      const j = await job("tenant-early", early.record.id);
      return j?.status === "succeeded" ? j : null;
    }, { what: "succeeded", timeoutMs: 30_000 });
    expect(done.attempts).toBe(1);
    expect(done.outputs).toHaveLength(1);
    expect(r.events.some((e) => e.event === "message_dropped" && e.jobId === early.record.id)).toBe(false);
  });

  it("drops a message whose record never comes once its grace is over (deleted, so never in the DLQ)", async () => {
    const r = await runner({ TROUPE_RECORD_GRACE_S: "2" });
    const orphan = await seedMessageFirst(t, "tenant-orphan", tinySpec({ steps: 5 }));
    const dropped = await waitFor(() => r.events.find((e) => e.event === "message_dropped" && e.jobId === orphan.record.id), { what: "orphan dropped", timeoutMs: 30_000 });
    expect(dropped).toMatchObject({ status: "missing" });
    expect(r.events.some((e) => e.event === "message_deferred" && e.jobId === orphan.record.id && e.reason === "record_pending")).toBe(true);
    expect(await job("tenant-orphan", orphan.record.id)).toBeNull();
  });

  it("cancels a running job at the next step and gives its quota back", async () => {
    await runner();
    const seeded = await seedJob(t, "tenant-cancel", tinySpec({ steps: 150 }));
    await waitFor(async () => ((await job("tenant-cancel", seeded.id))?.progress.step ?? 0) > 0, { what: "running" });
    await storesFor(t).jobs.patchIf("tenant-cancel", seeded.id, "running", { cancelRequested: true });
    const ended = await waitFor(async () => {
      const j = await job("tenant-cancel", seeded.id);
      return j?.status === "canceled" ? j : null;
    }, { what: "canceled" });
    expect(ended.progress.step).toBeLessThan(ended.progress.totalSteps);
    expect(ended.outputs ?? []).toHaveLength(0);
    // The give-back follows the transition: poll for it.
    const usage = await waitFor(async () => {
      const u = await storesFor(t).usage.summary("tenant-cancel", usagePeriod(), 1000);
      return u.images.reserved === 0 ? u : null;
    }, { what: "quota given back" });
    expect(usage.images.used).toBe(0);
    expect(usage.jobs.canceled).toBe(1);
  });

  it("fails a corrupt reference with upload_invalid and serves the next job", async () => {
    await runner();
    const bad = await seedJob(t, "tenant-corrupt", tinySpec({ prompt: "a dog img", subjects: [{ uploadId: "upl_x" }] }), [Buffer.from("not an image")]);
    const good = await seedJob(t, "tenant-corrupt", tinySpec({ prompt: "a dog img", subjects: [{ uploadId: "upl_x" }] }));
    const failed = await waitFor(async () => {
      const j = await job("tenant-corrupt", bad.id);
      return j?.status === "failed" ? j : null;
    }, { what: "failed" });
    expect(failed.error?.code).toBe("upload_invalid");
    await waitFor(async () => (await job("tenant-corrupt", good.id))?.status === "succeeded", { what: "next job succeeded" });
  });

  it("ends a poison message in the DLQ and the sweeper marks its job failed", async () => {
    await startTestEnvPoison();
  });

  it("on SIGTERM finishes the current job within the grace period", async () => {
    const r = await runner({ TROUPE_SHUTDOWN_GRACE_S: "60" });
    const seeded = await seedJob(t, "tenant-term", tinySpec({ steps: 60 }));
    await waitFor(async () => ((await job("tenant-term", seeded.id))?.progress.step ?? 0) > 0, { what: "running" });
    r.kill("SIGTERM");
    expect(await r.exited).toBe(0);
    expect((await job("tenant-term", seeded.id))?.status).toBe("succeeded");
  });

  it("on SIGTERM past the grace period releases the message at once for another runner", async () => {
    const r = await runner({ TROUPE_SHUTDOWN_GRACE_S: "0", TROUPE_VISIBILITY_TIMEOUT_S: "600" });
    const seeded = await seedJob(t, "tenant-release", tinySpec({ steps: 150 }));
    await waitFor(async () => ((await job("tenant-release", seeded.id))?.progress.step ?? 0) > 0, { what: "running" });
    r.kill("SIGTERM");
    expect(await r.exited).toBe(0);
    expect(r.events.some((e) => e.event === "job_released")).toBe(true);
    // The visibility timeout is 10 minutes: only a released message can be picked up this soon.
    await runner({ TROUPE_VISIBILITY_TIMEOUT_S: "600" });
    await waitFor(async () => (await job("tenant-release", seeded.id))?.status === "succeeded", { what: "taken over", timeoutMs: 60_000 });
  });
});

/**
 * A bundle whose manifest claims sizes in steps of 8 while its UNet needs 64: a 72×72 job passes every
 * check and then fails inside ONNX Runtime on every delivery, the way a poison message does.
 */
function poisonBundle(): string {
  const dir = mkdtempSync(join(tmpdir(), "troupe-poison-"));
  cpSync(env.TROUPE_BUNDLE, dir, { recursive: true });
  const manifest = JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8"));
  manifest.sizes.multiple = 8;
  writeFileSync(join(dir, "manifest.json"), JSON.stringify(manifest));
  return dir;
}

async function startTestEnvPoison(): Promise<void> {
  const poisonEnv = await startTestEnv({ bundle: poisonBundle(), maxReceiveCount: 2, visibilityTimeoutS: 2 });
  try {
    const r = await startRunner({ ...poisonEnv.env, TROUPE_VISIBILITY_TIMEOUT_S: "2", TROUPE_SWEEP_INTERVAL_S: "1" });
    runners.push(r);
    const seeded = await seedJob(poisonEnv, "tenant-poison", tinySpec({ width: 72, height: 72 }));
    const stores = storesFor(poisonEnv);
    const failed = await waitFor(async () => {
      const j = await stores.jobs.get("tenant-poison", seeded.id);
      return j?.status === "failed" ? j : null;
    }, { what: "poison job failed", timeoutMs: 60_000 });
    expect(failed.error?.code).toBe("internal_error");
    expect(r.events.filter((e) => e.event === "job_retry").length).toBeGreaterThanOrEqual(2);
    await waitFor(async () => (await stores.usage.summary("tenant-poison", usagePeriod(), 1000)).images.reserved === 0, { what: "quota given back" });
    // A malformed message is removed and never crashes the runner.
    await poisonEnv.clients.sqs.send(new SendMessageCommand({ QueueUrl: poisonEnv.config.TROUPE_QUEUE_URL!, MessageBody: "{not json" }));
    await waitFor(() => r.events.some((e) => e.event === "message_malformed"), { what: "malformed message seen" });
    expect(r.child.exitCode).toBeNull();
  } finally {
    await poisonEnv.stop();
  }
}
