import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import { startLocalStack, type LocalStack } from "../../local/stack.ts";
import { referencePng } from "../support/seed-jobs.ts";
import { waitFor } from "../support/wait-for.ts";
import { stackApi } from "../support/stack-api.ts";

/**
 * Subjects, deletion and retainInputs on the whole local stack (API + a real runner process), with
 * both processes' log lines captured for DESIGN §2's "no prompts, bytes, keys or URLs in logs".
 */
let stack: LocalStack;
let dataDir: string;
const logs: string[] = [];
/** Every secret or personal string the suite sends; none may show up in a log line. */
const sensitive = new Set<string>();

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), "troupe-privacy-"));
  stack = await startLocalStack({
    dataDir,
    port: 0,
    runners: 1,
    env: { PATH: process.env.PATH, TROUPE_WAIT_TIME_S: "1", TROUPE_INTRA_OP_THREADS: "1", TROUPE_PROGRESS_INTERVAL_MS: "50" },
    log: (line) => logs.push(line),
  });
  sensitive.add(stack.apiKey);
  sensitive.add(stack.apiKey.split(".")[1]); // the secret half alone
});
afterAll(async () => {
  await stack?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

const { api, finished } = stackApi(() => stack);

async function upload(bytes: Buffer): Promise<string> {
  const { body } = await api("/v1/uploads", { body: { contentType: "image/png", contentLength: bytes.length } });
  sensitive.add(body.uploadUrl);
  sensitive.add(new URL(body.uploadUrl).searchParams.get("X-Amz-Signature")!);
  // A fragment of the photo as it could leak: base64 and hex of its middle bytes.
  sensitive.add(bytes.subarray(20, 44).toString("base64"));
  sensitive.add(bytes.subarray(20, 44).toString("hex"));
  expect((await fetch(body.uploadUrl, { method: "PUT", headers: body.headers, body: bytes })).status).toBe(200);
  return body.id;
}

const runnerEvents = (event: string) =>
  logs.filter((l) => l.startsWith("[runner-")).flatMap((l) => {
    try {
      const e = JSON.parse(l.slice(l.indexOf("{"))) as Record<string, unknown>;
      return e.event === event ? [e] : [];
    } catch {
      return [];
    }
  });

const submit = async (prompt: string, subjects: Record<string, unknown>[], extra: Record<string, unknown> = {}) => {
  sensitive.add(prompt);
  const created = await api("/v1/generations", { body: { prompt, subjects, steps: 4, seed: 1, ...extra } });
  expect(created.status).toBe(202);
  return created.body.id as string;
};

describe("stored subjects on the local stack", () => {
  it("encodes a subject's photo once per bundle, then reuses the cached embedding", async () => {
    const subject = await api("/v1/subjects", { body: { uploadId: await upload(await referencePng("#36c")) } });
    expect(subject.status).toBe(201);
    const first = await finished(await submit("a zorblax img in a lush garden", [{ subjectId: subject.body.id }]));
    const second = await finished(await submit("a zorblax img on a snowy mountain", [{ subjectId: subject.body.id }]));
    expect([first.status, second.status]).toEqual(["succeeded", "succeeded"]);
    // The runner logs `job_succeeded` after the transition the API already shows: poll for both lines.
    const byJob = await waitFor(() => {
      const seen = Object.fromEntries(runnerEvents("job_succeeded").map((e) => [e.jobId, e.cachedSubjects]));
      return first.id in seen && second.id in seen ? seen : null;
    }, { what: "job_succeeded lines of both jobs" });
    expect(byJob[first.id]).toBe(0); // encoded and cached
    expect(byJob[second.id]).toBe(1); // decoder and image encoder skipped
    // The same seed and subject give the same image whether the embedding came from the cache or not.
    const third = await finished(await submit("a zorblax img in a lush garden", [{ subjectId: subject.body.id }]));
    const png = async (job: Record<string, any>) => Buffer.from(await (await fetch(job.outputs[0].url)).arrayBuffer());
    expect((await png(third)).equals(await png(first))).toBe(true);
  });

  it("fails a queued job whose subject was deleted with unknown_subject", async () => {
    const uploadId = await upload(await referencePng("#c33"));
    const subjectId = (await api("/v1/subjects", { body: { uploadId } })).body.id;
    // A long job holds the single runner while the subject's job waits behind it.
    const blocker = await submit("a quuxfen img walking", [{ uploadId }], { steps: 150 });
    const queued = await submit("a quuxfen img sleeping", [{ subjectId }]);
    expect((await api(`/v1/subjects/${subjectId}`, { method: "DELETE" })).status).toBe(204);
    await api(`/v1/generations/${blocker}/cancel`, { method: "POST" });
    const failed = await finished(queued);
    expect(failed.status).toBe("failed");
    expect(failed.error.code).toBe("unknown_subject");
  });
});

describe("deletion and retention on the local stack", () => {
  it("a job deleted while running stops at its next step, as a cancel does, and stores nothing", async () => {
    const uploadId = await upload(await referencePng("#3a3"));
    // The longest job there is (150 steps × 4 images), so that it is still running when DELETE comes.
    const id = await submit("a blorptangle img dancing", [{ uploadId }], { steps: 150, numImages: 4 });
    await waitFor(async () => (await api(`/v1/generations/${id}`)).body.progress?.step > 0, { what: "running" });
    expect((await api(`/v1/generations/${id}`, { method: "DELETE" })).status).toBe(204);
    expect((await api(`/v1/generations/${id}`)).status).toBe(404);
    // The runner handles one job at a time: once a later job is done, the deleted one is settled.
    const after = await finished(await submit("a blorptangle img resting", [{ uploadId }]));
    expect(after.status).toBe("succeeded");
    // It let the runner go before computing the rest: the runner says where it stopped, short of the end,
    // and only then started the next job.
    const stopped = await waitFor(() => {
      const lines = runnerEvents("job_stopped").filter((e) => e.jobId === id);
      return lines.length ? lines : null;
    }, { what: "the deleted job's job_stopped line" });
    expect(stopped).toEqual([expect.objectContaining({ totalSteps: 600 })]);
    expect(stopped[0].step).toBeLessThan(600);
    const started = runnerEvents("job_started").map((e) => e.jobId);
    expect(started.indexOf(after.id)).toBe(started.indexOf(id) + 1);
    const listed = await api("/v1/generations?limit=100");
    expect(listed.body.data.map((j: { id: string }) => j.id)).not.toContain(id);
    // Its outputs were never written, or were removed by whichever side came second.
    const s3 = new S3Client({ region: "us-east-1", endpoint: stack.endpoints.s3, forcePathStyle: true, credentials: { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" } });
    const listed0 = await s3.send(new ListObjectsV2Command({ Bucket: "troupe-local", Prefix: "outputs/" }));
    expect(listed0.KeyCount).toBeGreaterThan(0); // the other jobs' outputs are there
    expect((listed0.Contents ?? []).filter((o) => o.Key!.includes(id))).toEqual([]);
    s3.destroy();
    expect(runnerEvents("job_succeeded").map((e) => e.jobId)).not.toContain(id);
    // Its reservation went back: what stays reserved is exactly what succeeded.
    const usage = (await api("/v1/usage")).body;
    expect(usage.images.reserved).toBe(usage.images.used);
  });

  it("retainInputs false deletes the job's upload when it ends; its presigned output URL dies with DELETE", async () => {
    const uploadId = await upload(await referencePng("#993"));
    const done = await finished(await submit("a snargle img by the sea", [{ uploadId }], { retainInputs: false }));
    expect(done.status).toBe("succeeded");
    sensitive.add(done.outputs[0].url);
    await waitFor(async () => (await api("/v1/generations", { body: { prompt: "a snargle img", subjects: [{ uploadId }], steps: 1 } })).status === 422, {
      what: "the upload deleted after the job",
    });
    expect((await fetch(done.outputs[0].url)).status).toBe(200);
    expect((await api(`/v1/generations/${done.id}`, { method: "DELETE" })).status).toBe(204);
    expect((await fetch(done.outputs[0].url)).status).toBe(404);
    expect((await fetch(done.attentionMaps[0].url)).status).toBe(404);
  });
});

describe("logs", () => {
  it("never contain a prompt, the key, a presigned URL or image bytes (API and runner)", () => {
    expect(logs.some((l) => l.startsWith("[runner-") && l.includes("job_succeeded"))).toBe(true);
    expect(logs.some((l) => l.includes('"path":"/v1/generations"'))).toBe(true);
    const leaks = [...sensitive].filter((s) => s.length >= 8).flatMap((s) => logs.filter((l) => l.includes(s)).map((l) => `${s.slice(0, 40)}… in ${l.slice(0, 200)}`));
    expect(leaks).toEqual([]);
  });
});
