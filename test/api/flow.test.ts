import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PutObjectCommand } from "@aws-sdk/client-s3";
import { JobSchema } from "@troupe/shared/contracts/generation";
import { UploadSchema } from "@troupe/shared/contracts/upload";
import { startServer } from "../../functions/src/handlers/node.ts";
import { JPEG_BYTES, startHarness, type Harness } from "./support/harness.ts";

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => h?.stop());

const body = (uploadIds: string[], extra: Record<string, unknown> = {}) => ({
  prompt: uploadIds.length === 2 ? "a man img and a woman img sitting in a park" : "a photo of a dog img on the beach",
  subjects: uploadIds.map((uploadId) => ({ uploadId })),
  steps: 20,
  ...extra,
});

describe("health and documents", () => {
  it("answers /healthz without auth, with a request id (the caller's when safe)", async () => {
    const res = await h.call("GET", "/healthz");
    expect(res).toMatchObject({ status: 200, body: { ok: true } });
    expect(res.headers.get("x-request-id")).toMatch(/^req_[0-9a-f]{32}$/);
    const mine = await h.call("GET", "/healthz", { headers: { "x-request-id": "trace-123.abc" } });
    expect(mine.headers.get("x-request-id")).toBe("trace-123.abc");
    const unsafe = await h.call("GET", "/healthz", { headers: { "x-request-id": "bad id <script>" } });
    expect(unsafe.headers.get("x-request-id")).toMatch(/^req_/);
  });

  it("serves an OpenAPI 3.1 document listing every route with the bearer scheme", async () => {
    const { status, body: doc } = await h.call("GET", "/openapi.json");
    expect(status).toBe(200);
    expect(doc.openapi).toBe("3.1.0");
    expect(doc.components.securitySchemes.bearer).toMatchObject({ type: "http", scheme: "bearer" });
    const routes = Object.entries(doc.paths as Record<string, Record<string, unknown>>).flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${p}`));
    expect(routes.sort()).toEqual(
      [
        "GET /healthz",
        "GET /openapi.json",
        "POST /v1/uploads",
        "POST /v1/generations",
        "GET /v1/generations",
        "GET /v1/generations/{id}",
        "POST /v1/generations/{id}/cancel",
        "GET /v1/generations/{id}/deliveries",
        "POST /v1/generations/{id}/deliveries/redeliver",
        "DELETE /v1/generations/{id}",
        "DELETE /v1/uploads/{id}",
        "POST /v1/subjects",
        "GET /v1/subjects",
        "GET /v1/subjects/{id}",
        "DELETE /v1/subjects/{id}",
        "GET /v1/usage",
        "GET /v1/webhook-secret",
        "POST /v1/webhook-secret/rotate",
      ].sort(),
    );
    // Every handler the app serves is documented (middleware is mounted as ALL), so a new route cannot go unlisted.
    const served = new Set(h.app.routes.filter((r) => r.method !== "ALL").map((r) => `${r.method} ${r.path.replace(/:(\w+)/g, "{$1}")}`));
    expect([...served].sort()).toEqual(routes.sort());
    expect(doc.paths["/v1/generations"].post.security).toEqual([{ bearer: [] }]);
    expect(doc.paths["/v1/generations"].post.responses["422"].content["application/json"].schema).toBeDefined();
    // Bearer by default (root `security`); the two public documents say so explicitly.
    expect(doc.security).toEqual([{ bearer: [] }]);
    expect(doc.paths["/healthz"].get.security).toEqual([]);
    expect(doc.paths["/openapi.json"].get.security).toEqual([]);
  });
});

describe("upload → submit → queue → poll → cancel", () => {
  it("runs the whole flow through app.request", async () => {
    const { key, keyId } = await h.newKey({ monthlyImages: 10 });
    const man = await h.upload(key);
    const woman = await h.upload(key, JPEG_BYTES, "image/jpeg");

    // 1. Submit
    const created = await h.call("POST", "/v1/generations", { key, body: body([man, woman], { numImages: 2 }) });
    expect(created.status).toBe(202);
    const job = JobSchema.parse(created.body);
    expect(created.headers.get("location")).toBe(`/v1/generations/${job.id}`);
    expect(job).toMatchObject({ status: "queued", startedAt: null, finishedAt: null, outputs: [], error: null, progress: { step: 0, totalSteps: 40 } }); // steps × numImages
    expect(job.input).toMatchObject({ width: 128, height: 128, numImages: 2, scheduler: "pndm", guidanceScale: 5, alpha: 0.7, negativePrompt: "" });
    expect(job.input.seed).toEqual(expect.any(Number));

    // 2. The runner's message carries the whole spec
    const messages = await h.drainQueue();
    expect(messages).toHaveLength(1);
    expect(messages[0]).toMatchObject({ v: 1, jobId: job.id, tenantId: keyId, spec: job.input });

    // 3. Poll while a runner works, then after it finished: URLs are presigned GETs that work
    const polled = await h.call("GET", `/v1/generations/${job.id}`, { key });
    expect(polled).toMatchObject({ status: 200, body: { id: job.id, status: "queued" } });
    await h.deps.stores.jobs.transition(keyId, job.id, ["queued"], "running", { startedAt: new Date().toISOString() });
    const outKey = `outputs/${keyId}/${job.id}/0.png`;
    await h.t.clients.s3.send(new PutObjectCommand({ Bucket: h.deps.config.TROUPE_BUCKET, Key: outKey, Body: JPEG_BYTES }));
    await h.deps.stores.jobs.transition(keyId, job.id, ["running"], "succeeded", {
      finishedAt: new Date().toISOString(),
      outputs: [{ key: outKey, width: 128, height: 128 }],
      attentionMaps: [{ subject: 0, key: outKey }],
      metrics: { queueMs: 5, inferenceMs: 100, gpuSeconds: 0.1 },
    });
    const done = await h.call("GET", `/v1/generations/${job.id}`, { key });
    expect(done.body).toMatchObject({ status: "succeeded", metrics: { gpuSeconds: 0.1 }, outputs: [{ width: 128, height: 128, contentType: "image/png" }] });
    expect(done.body.outputs[0].url).toContain("X-Amz-Signature");
    expect(Buffer.from(await (await fetch(done.body.outputs[0].url)).arrayBuffer())).toEqual(JPEG_BYTES);
    expect(done.body.attentionMaps[0]).toMatchObject({ subject: 0, url: expect.stringContaining(outKey) });

    // 4. Cancel: a queued job at once (quota back), a running one by request, a finished one never
    const queued = (await h.call("POST", "/v1/generations", { key, body: body([man]) })).body;
    const running = (await h.call("POST", "/v1/generations", { key, body: body([man]) })).body;
    await h.deps.stores.jobs.transition(keyId, running.id, ["queued"], "running");
    expect((await h.call("GET", "/v1/usage", { key })).body.images.reserved).toBe(4);

    const canceled = await h.call("POST", `/v1/generations/${queued.id}/cancel`, { key });
    expect(canceled).toMatchObject({ status: 202, body: { id: queued.id, status: "canceled", finishedAt: expect.any(String) } });
    const stopping = await h.call("POST", `/v1/generations/${running.id}/cancel`, { key });
    expect(stopping).toMatchObject({ status: 202, body: { status: "running", cancelRequested: true } });
    const again = await h.call("POST", `/v1/generations/${queued.id}/cancel`, { key });
    expect(again).toMatchObject({ status: 409, body: { error: { code: "not_cancelable" } } });

    // 5. Usage and listing
    const usage = await h.call("GET", "/v1/usage", { key });
    expect(usage.body).toEqual({
      period: new Date().toISOString().slice(0, 7),
      images: { used: 0, limit: 10, reserved: 3 },
      gpuSeconds: { used: 0 },
      jobs: { submitted: 3, succeeded: 0, failed: 0, canceled: 1 },
      safety: { policy: "block", flagged: 0, withheld: 0 },
    });
    const page1 = await h.call("GET", "/v1/generations?limit=2", { key });
    expect(page1.body.data.map((j: { id: string }) => j.id)).toEqual([running.id, queued.id]);
    const page2 = await h.call("GET", `/v1/generations?limit=2&cursor=${page1.body.nextCursor}`, { key });
    expect(page2.body.data.map((j: { id: string }) => j.id)).toEqual([job.id]);
    await h.drainQueue();
  });

  it("lets the key holder read and rotate its webhook secret", async () => {
    const { key } = await h.newKey();
    const first = await h.call("GET", "/v1/webhook-secret", { key });
    expect(first.body.secret).toMatch(/^whsec_/);
    const rotated = await h.call("POST", "/v1/webhook-secret/rotate", { key });
    expect(rotated.body.secret).toMatch(/^whsec_/);
    expect(rotated.body.secret).not.toBe(first.body.secret);
    expect((await h.call("GET", "/v1/webhook-secret", { key })).body.secret).toBe(rotated.body.secret);
  });

  it("logs one redacted JSON line per request", async () => {
    const { key, keyId } = await h.newKey();
    h.logs.length = 0;
    await h.call("GET", "/v1/usage?token=abc", { key, headers: { "x-request-id": "log-check-1" } });
    await h.call("GET", "/nope");
    expect(h.logs).toHaveLength(2);
    const [usage, missing] = h.logs.map((l) => JSON.parse(l));
    expect(usage).toMatchObject({ method: "GET", path: "/v1/usage", status: 200, requestId: "log-check-1", tenant: keyId, query: "token=[redacted]" });
    expect(usage.ms).toEqual(expect.any(Number));
    expect(missing).toMatchObject({ path: "/nope", status: 404, tenant: null });
    expect(h.logs.join("\n")).not.toContain(key.split(".")[1]);
  });
});

describe("through a real Node server", () => {
  it("uploads with a presigned PUT, submits and polls over HTTP", async () => {
    const server = await startServer(h.app, { port: 0 });
    try {
      const { key } = await h.newKey();
      const auth = { authorization: `Bearer ${key}`, "content-type": "application/json" };
      const slot = await fetch(`${server.url}/v1/uploads`, { method: "POST", headers: auth, body: JSON.stringify({ contentType: "image/jpeg", contentLength: JPEG_BYTES.length }) });
      expect(slot.status).toBe(201);
      const upload = UploadSchema.parse(await slot.json());
      expect(new URL(upload.uploadUrl).searchParams.get("X-Amz-SignedHeaders")).toMatch(/content-length;content-type/);
      expect((await fetch(upload.uploadUrl, { method: "PUT", headers: upload.headers, body: JPEG_BYTES })).ok).toBe(true);

      const submitted = await fetch(`${server.url}/v1/generations`, { method: "POST", headers: auth, body: JSON.stringify(body([upload.id], { seed: 7, width: 256, height: 64 })) });
      expect(submitted.status).toBe(202);
      expect(submitted.headers.get("x-request-id")).toBeTruthy();
      const job = JobSchema.parse(await submitted.json());
      expect(job.input).toMatchObject({ seed: 7, width: 256, height: 64 });
      const polled = await fetch(`${server.url}${submitted.headers.get("location")}`, { headers: auth });
      expect(await polled.json()).toMatchObject({ id: job.id, status: "queued" });
      expect((await h.drainQueue()).map((m) => m.jobId)).toEqual([job.id]);

      const missing = await fetch(`${server.url}/v1/nothing-here`, { headers: auth });
      expect(missing.status).toBe(404);
      expect(await missing.json()).toMatchObject({ error: { code: "not_found", requestId: missing.headers.get("x-request-id") } });
    } finally {
      await server.close();
    }
  });
});
