import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTroupeClient, TroupeError } from "@troupe/client";
import { verifyWebhook } from "@troupe/shared/webhooks/sign";
import { referencePng } from "../support/seed-jobs.ts";
import { startTestStack, type TestStack } from "../support/test-stack.ts";
import { waitFor } from "../support/wait-for.ts";
import { Receiver } from "./support/receiver.ts";
import { stackApi } from "../support/stack-api.ts";

// The whole local stack (API, runner, the stack's own webhook sender), driven over HTTP.
const OVERLAP_S = 4;
let stack: TestStack;
const receiver = new Receiver();

beforeAll(async () => {
  await receiver.up();
  stack = await startTestStack("webhooks", { TROUPE_WEBHOOK_SCHEDULE: "1s,1s", TROUPE_WEBHOOK_SECRET_OVERLAP_S: String(OVERLAP_S), TROUPE_WEBHOOK_TIMEOUT_MS: "2000" });
});
afterAll(async () => {
  await stack?.stop();
  await receiver.down();
});

const { api } = stackApi(() => stack);

async function submit(webhookUrl?: string): Promise<string> {
  const png = await referencePng("#39c");
  const { body: up } = await api("/v1/uploads", { body: { contentType: "image/png", contentLength: png.length } });
  await fetch(up.uploadUrl, { method: "PUT", headers: up.headers, body: png });
  const { body } = await api("/v1/generations", { body: { prompt: "a dog img", subjects: [{ uploadId: up.id }], steps: 2, ...(webhookUrl ? { webhookUrl } : {}) } });
  return body.id;
}

/** Waits for the n-th delivery (1-based) of this job to reach the receiver. */
const nthDelivery = (jobId: string, n: number) =>
  waitFor(() => receiver.received.filter((d) => d.headers["webhook-id"] === `${jobId}_succeeded`)[n - 1], { what: `delivery ${n} of ${jobId}`, timeoutMs: 60_000 });

const delivered = (jobId: string, entries: number) =>
  waitFor(async () => {
    const { body } = await api(`/v1/generations/${jobId}/deliveries`);
    return body.state === "delivered" && body.data.length === entries ? body : null;
  }, { what: `${entries} logged attempts of ${jobId}`, timeoutMs: 60_000 });

describe("webhook delivery log, redelivery and secret rotation", () => {
  let jobId: string;

  it("lists every attempt of a job's delivery", async () => {
    jobId = await submit(receiver.url);
    await nthDelivery(jobId, 1);
    const log = await delivered(jobId, 1);
    expect(log).toMatchObject({ event: "succeeded", webhookId: `${jobId}_succeeded`, state: "delivered", nextAttemptAt: null });
    expect(log.data[0]).toMatchObject({ attempt: 1, redelivery: 0, status: 204, error: null });
    expect(log.data[0].durationMs).toBeGreaterThanOrEqual(0);
    expect(Date.parse(log.data[0].at)).not.toBeNaN();
  });

  it("redelivers the last event on request, with the same webhook-id and a fresh signature", async () => {
    const { status, body } = await api(`/v1/generations/${jobId}/deliveries/redeliver`, { method: "POST" });
    expect(status).toBe(202);
    expect(body).toEqual({ webhookId: `${jobId}_succeeded`, event: "succeeded", redelivery: 1 });
    const again = await nthDelivery(jobId, 2);
    expect(JSON.parse(again.body)).toMatchObject({ id: jobId, status: "succeeded" });
    const { body: secret } = await api("/v1/webhook-secret");
    expect(verifyWebhook(secret.secret, again.headers, again.body)).toBe(true);
    const log = await delivered(jobId, 2);
    expect(log.data.map((a: { attempt: number; redelivery: number }) => [a.attempt, a.redelivery])).toEqual([
      [1, 0],
      [1, 1],
    ]);
  });

  it("signs with the old and the new secret during the overlap window, then with the new one only", async () => {
    const { body: old } = await api("/v1/webhook-secret");
    const { status, body: rotated } = await api("/v1/webhook-secret/rotate", { method: "POST" });
    expect(status).toBe(200);
    const rotatedAt = Date.now();
    expect(rotated.secret).not.toBe(old.secret);

    await api(`/v1/generations/${jobId}/deliveries/redeliver`, { method: "POST" });
    const during = await nthDelivery(jobId, 3);
    expect(during.headers["webhook-signature"].split(" ")).toHaveLength(2);
    expect(verifyWebhook(rotated.secret, during.headers, during.body)).toBe(true);
    expect(verifyWebhook(old.secret, during.headers, during.body)).toBe(true);

    // Waiting out the configured window is the behaviour under test, not synchronization.
    await waitFor(() => Date.now() > rotatedAt + OVERLAP_S * 1000 + 100, { what: "overlap window over", timeoutMs: 30_000, intervalMs: 200 });
    await api(`/v1/generations/${jobId}/deliveries/redeliver`, { method: "POST" });
    const after = await nthDelivery(jobId, 4);
    expect(after.headers["webhook-signature"].split(" ")).toHaveLength(1);
    expect(verifyWebhook(rotated.secret, after.headers, after.body)).toBe(true);
    expect(verifyWebhook(old.secret, after.headers, after.body)).toBe(false);
  });

  it("refuses a redelivery for a job without a webhook, and hides other keys' jobs", async () => {
    const plain = await submit();
    await waitFor(async () => (await api(`/v1/generations/${plain}`)).body.status === "succeeded", { what: "plain job done", timeoutMs: 60_000 });
    const refused = await api(`/v1/generations/${plain}/deliveries/redeliver`, { method: "POST" });
    expect(refused.status).toBe(409);
    expect(refused.body.error).toMatchObject({ code: "not_redeliverable", details: { reason: "no_webhook" } });
    expect(refused.body.error.message).toMatch(/without a webhookUrl/);
    expect(await api(`/v1/generations/${plain}/deliveries`)).toMatchObject({ status: 200, body: { data: [], state: null } });
    expect((await api("/v1/generations/gen_doesnotexist0000000000000/deliveries")).status).toBe(404);
  });

  it("is reachable through the SDK", async () => {
    const client = createTroupeClient({ baseUrl: stack.apiUrl, apiKey: stack.apiKey });
    const before = await client.generations.deliveries(jobId);
    expect(before.state).toBe("delivered");
    const again = await client.generations.redeliver(jobId);
    expect(again).toMatchObject({ webhookId: `${jobId}_succeeded`, redelivery: before.data.at(-1)!.redelivery + 1 });
    await nthDelivery(jobId, before.data.length + 1);
    const refused = await client.generations.redeliver("gen_doesnotexist0000000000000").catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(TroupeError);
    expect(refused).toMatchObject({ code: "not_found", status: 404 });
  });

  it("documents both endpoints in the OpenAPI document", async () => {
    const doc = (await (await fetch(`${stack.apiUrl}/openapi.json`)).json()) as Record<string, any>;
    expect(doc.paths["/v1/generations/{id}/deliveries"].get).toMatchObject({ operationId: "listDeliveries", summary: expect.any(String) });
    expect(doc.paths["/v1/generations/{id}/deliveries/redeliver"].post).toMatchObject({ operationId: "redeliverWebhook", summary: expect.any(String) });
    expect(Object.keys(doc.components.schemas)).toEqual(expect.arrayContaining(["Delivery", "DeliveryList", "Redelivery"]));
    expect(doc.paths["/v1/generations/{id}/deliveries"].get.responses["404"]).toBeDefined();
  });
});
