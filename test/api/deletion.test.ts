import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PutObjectCommand } from "@aws-sdk/client-s3";
import { GetCommand } from "@aws-sdk/lib-dynamodb";
import { PNG_BYTES, startHarness, type Harness } from "./support/harness.ts";

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => h?.stop());

const PROMPT = "a photo of a dog img on the beach";
const job = (uploadId: string, extra: Record<string, unknown> = {}) => ({ prompt: PROMPT, subjects: [{ uploadId }], steps: 4, ...extra });
const rawRecord = async (tenantId: string, id: string) =>
  (await h.t.clients.ddb.send(new GetCommand({ TableName: h.deps.config.TROUPE_JOBS_TABLE, Key: { tenantId, id }, ConsistentRead: true }))).Item;

/** What the runner does on success: outputs under their keys, then the conditional transition and the usage line. */
async function succeed(tenantId: string, jobId: string): Promise<void> {
  const bucket = h.deps.config.TROUPE_BUCKET;
  const keys = [`outputs/${tenantId}/${jobId}/0.png`, `outputs/${tenantId}/${jobId}/attention-0.png`];
  for (const Key of keys) await h.t.clients.s3.send(new PutObjectCommand({ Bucket: bucket, Key, Body: Buffer.from("png"), ContentType: "image/png" }));
  const { jobs, usage } = h.deps.stores;
  await jobs.claim(tenantId, jobId, Date.now(), 60_000);
  const done = await jobs.transition(tenantId, jobId, ["running"], "succeeded", {
    outputs: [{ key: keys[0], width: 128, height: 128 }],
    attentionMaps: [{ subject: 0, key: keys[1] }],
    finishedAt: new Date().toISOString(),
    metrics: { queueMs: 1, inferenceMs: 100, gpuSeconds: 0.1 },
  });
  await usage.record(tenantId, done!.quotaPeriod, jobId, 1, 0.1);
}

describe("DELETE /v1/uploads/{id}", () => {
  it("removes the photo and the record at once; the id then reads as unknown everywhere", async () => {
    const { key, keyId } = await h.newKey();
    const other = await h.newKey();
    const uploadId = await h.upload(key);
    expect((await h.call("DELETE", `/v1/uploads/${uploadId}`, { key: other.key })).status).toBe(404);
    expect(await h.countObjects(`uploads/${keyId}/${uploadId}`)).toBe(1);
    expect((await h.call("DELETE", `/v1/uploads/${uploadId}`, { key })).status).toBe(204);
    expect(await h.countObjects(`uploads/${keyId}/${uploadId}`)).toBe(0);
    expect((await h.call("DELETE", `/v1/uploads/${uploadId}`, { key })).status).toBe(404);
    const refused = await h.call("POST", "/v1/generations", { key, body: job(uploadId) });
    expect(refused.status).toBe(422);
    expect(refused.body.error.code).toBe("unknown_upload");
  });

  it("removes a photo PUT again through the deleted upload's presigned URL (S3 cannot revoke it), answering 404", async () => {
    const { key, keyId } = await h.newKey();
    const slot = await h.call("POST", "/v1/uploads", { key, body: { contentType: "image/png", contentLength: PNG_BYTES.length } });
    const put = () => fetch(slot.body.uploadUrl, { method: "PUT", headers: slot.body.headers, body: PNG_BYTES });
    await put();
    expect((await h.call("DELETE", `/v1/uploads/${slot.body.id}`, { key })).status).toBe(204);
    expect((await put()).ok).toBe(true);
    expect(await h.countObjects(`uploads/${keyId}/${slot.body.id}`)).toBe(1);
    expect((await h.call("DELETE", `/v1/uploads/${slot.body.id}`, { key })).status).toBe(404);
    expect(await h.countObjects(`uploads/${keyId}/${slot.body.id}`)).toBe(0);
    // Another key's id, or a string that is no upload id, touches nothing.
    expect((await h.call("DELETE", "/v1/uploads/upl_..%2F..%2Fx", { key })).status).toBe(404);
  });
});

describe("DELETE /v1/generations/{id}", () => {
  it("cancels a queued job, gives its quota back and leaves a scrubbed tombstone that reads 404", async () => {
    const { key, keyId } = await h.newKey({ monthlyImages: 5 });
    const uploadId = await h.upload(key);
    const created = await h.call("POST", "/v1/generations", { key, body: job(uploadId, { numImages: 2, webhookUrl: "https://hooks.example.com/x" }) });
    expect(created.status).toBe(202);
    const id = created.body.id as string;
    expect((await h.call("GET", "/v1/usage", { key })).body.images.reserved).toBe(2);

    expect((await h.call("DELETE", `/v1/generations/${id}`, { key })).status).toBe(204);
    expect((await h.call("GET", `/v1/generations/${id}`, { key })).status).toBe(404);
    expect((await h.call("POST", `/v1/generations/${id}/cancel`, { key })).status).toBe(404);
    expect((await h.call("DELETE", `/v1/generations/${id}`, { key })).status).toBe(404);
    expect((await h.call("GET", "/v1/generations", { key })).body.data).toEqual([]);
    const usage = (await h.call("GET", "/v1/usage", { key })).body;
    expect(usage.images).toMatchObject({ used: 0, reserved: 0 });
    expect(usage.jobs).toMatchObject({ submitted: 1, canceled: 1 });

    const tombstone = await rawRecord(keyId, id);
    expect(tombstone).toMatchObject({ status: "canceled", deletedAt: expect.any(String), spec: { prompt: "", negativePrompt: "", subjects: [], numImages: 2 } });
    // Its ids aside (random letters can spell "dog"), nothing of the prompt, inputs or webhook is left.
    const { id: _id, tenantId: _tenant, ...kept } = tombstone!;
    expect(JSON.stringify(kept)).not.toContain("dog");
    expect(JSON.stringify(kept)).not.toContain(uploadId);
    expect(JSON.stringify(kept)).not.toContain("hooks.example.com");
    await h.drainQueue();
  });

  it("deletes a finished job's outputs so its presigned URLs stop working, and keeps its usage", async () => {
    const { key, keyId } = await h.newKey();
    const created = await h.call("POST", "/v1/generations", { key, body: job(await h.upload(key)) });
    await succeed(keyId, created.body.id);
    const done = (await h.call("GET", `/v1/generations/${created.body.id}`, { key })).body;
    expect(done.status).toBe("succeeded");
    const urls = [done.outputs[0].url, done.attentionMaps[0].url] as string[];
    for (const url of urls) expect((await fetch(url)).status).toBe(200);

    expect((await h.call("DELETE", `/v1/generations/${created.body.id}`, { key })).status).toBe(204);
    for (const url of urls) expect((await fetch(url)).status).toBe(404);
    expect(await h.countObjects(`outputs/${keyId}/${created.body.id}/`)).toBe(0);
    expect((await h.call("GET", `/v1/generations/${created.body.id}`, { key })).status).toBe(404);
    const usage = (await h.call("GET", "/v1/usage", { key })).body;
    expect(usage.images.used).toBe(1);
    expect(usage.jobs.succeeded).toBe(1);
    expect(await rawRecord(keyId, created.body.id)).toMatchObject({ status: "succeeded", metrics: { gpuSeconds: 0.1 }, spec: { prompt: "" } });
    await h.drainQueue();
  });

  it("a retry after a crash between the scrub and the object deletes removes the outputs (and still reads 404)", async () => {
    const { key, keyId } = await h.newKey();
    const created = await h.call("POST", "/v1/generations", { key, body: job(await h.upload(key)) });
    await succeed(keyId, created.body.id);
    // The crash: the record was scrubbed, the objects were not yet deleted.
    const { jobs } = h.deps.stores;
    expect(await jobs.erase((await jobs.get(keyId, created.body.id))!, Date.now())).not.toBeNull();
    expect(await h.countObjects(`outputs/${keyId}/${created.body.id}/`)).toBe(2);
    expect((await h.call("DELETE", `/v1/generations/${created.body.id}`, { key })).status).toBe(404);
    expect(await h.countObjects(`outputs/${keyId}/${created.body.id}/`)).toBe(0);
    await h.drainQueue();
  });

  it("with retainInputs false, also deletes the job's uploads; another key's delete is 404", async () => {
    const { key, keyId } = await h.newKey();
    const other = await h.newKey();
    const uploadId = await h.upload(key);
    const created = await h.call("POST", "/v1/generations", { key, body: job(uploadId, { retainInputs: false }) });
    expect(created.body.input.retainInputs).toBe(false);
    expect((await h.call("DELETE", `/v1/generations/${created.body.id}`, { key: other.key })).status).toBe(404);
    expect((await h.call("GET", `/v1/generations/${created.body.id}`, { key })).status).toBe(200);
    expect((await h.call("DELETE", `/v1/generations/${created.body.id}`, { key })).status).toBe(204);
    expect(await h.countObjects(`uploads/${keyId}/${uploadId}`)).toBe(0);
    expect((await h.call("DELETE", `/v1/uploads/${uploadId}`, { key })).status).toBe(404);
    await h.drainQueue();
  });
});

describe("Idempotency-Key of a deleted job", () => {
  it("answers 409 idempotency_conflict (reason job_deleted) for 24 h: neither the tombstone nor a new job", async () => {
    const { key, keyId } = await h.newKey({ monthlyImages: 5 });
    const body = job(await h.upload(key));
    const headers = { "idempotency-key": "order-deleted-1" };
    const created = await h.call("POST", "/v1/generations", { key, body, headers });
    expect(created.status).toBe(202);
    const id = created.body.id as string;
    expect((await h.call("DELETE", `/v1/generations/${id}`, { key })).status).toBe(204);
    await h.drainQueue();

    // At once (the claim is still young enough to look in flight) and once it is old enough to be taken over.
    const start = Date.now();
    for (const at of [start, start + 31_000, start + 23 * 3600_000]) {
      h.setNow(at);
      const retried = await h.call("POST", "/v1/generations", { key, body, headers });
      expect(retried.status).toBe(409);
      expect(retried.body.error).toMatchObject({ code: "idempotency_conflict", details: { jobId: id, reason: "job_deleted" } });
      expect(retried.body.error.message).toContain("new Idempotency-Key");
    }
    h.setNow(undefined);
    // Nothing was created, reserved or queued by the retries.
    expect(await h.countJobs(keyId)).toBe(0);
    expect((await h.call("GET", "/v1/usage", { key })).body.images).toMatchObject({ used: 0, reserved: 0 });
    expect(await h.drainQueue()).toEqual([]);
    // Another body under the same key is still the plain conflict, and a new key creates a job.
    const other = await h.call("POST", "/v1/generations", { key, body: { ...body, steps: 5 }, headers });
    expect(other.body.error).toMatchObject({ code: "idempotency_conflict", details: { jobId: id } });
    expect(other.body.error.details.reason).toBeUndefined();
    expect((await h.call("POST", "/v1/generations", { key, body, headers: { "idempotency-key": "order-deleted-2" } })).status).toBe(202);
    await h.drainQueue();
  });
});

describe("per-key retention", () => {
  it("signs a key's shorter upload retention into the presigned PUT as the tag its lifecycle rule matches", async () => {
    const { key, keyId } = await h.newKey();
    expect(await h.deps.stores.keys.setRetention(keyId, { uploadsDays: 1, outputsDays: 3 })).toBe(true);
    const slot = await h.call("POST", "/v1/uploads", { key, body: { contentType: "image/png", contentLength: 67 } });
    expect(slot.body.headers).toEqual({ "content-type": "image/png", "x-amz-tagging": "troupe-retention-days=1" });
    expect(new URL(slot.body.uploadUrl).searchParams.get("X-Amz-SignedHeaders")).toContain("x-amz-tagging");
    const record = await rawRecord(keyId, slot.body.id);
    expect(record!.expiresAt - Date.parse(record!.createdAt) / 1000).toBeCloseTo(24 * 3600, -1);
    // A key without retention: the bucket's rules, no tag.
    const plain = await h.newKey();
    expect((await h.call("POST", "/v1/uploads", { key: plain.key, body: { contentType: "image/png", contentLength: 67 } })).body.headers).toEqual({ "content-type": "image/png" });
  });
});
