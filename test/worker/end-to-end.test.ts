import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createServer, type Server } from "node:http";
import sharp from "sharp";
import { verifyWebhook } from "@troupe/shared/webhooks/sign";
import { startTestStack, type TestStack } from "../support/test-stack.ts";
import { referencePng } from "../support/seed-jobs.ts";
import { waitFor } from "../support/wait-for.ts";
import { stackApi } from "../support/stack-api.ts";

let stack: TestStack;
let hooks: Server;
let hookUrl: string;
const deliveries: { path: string; headers: Record<string, string>; body: string; status: number }[] = [];
let failuresLeft = 0;

beforeAll(async () => {
  hooks = createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => (body += c.toString()));
    req.on("end", () => {
      const failing = req.url === "/flaky" && failuresLeft-- > 0;
      const status = failing ? 500 : 204;
      deliveries.push({ path: req.url ?? "", headers: req.headers as Record<string, string>, body, status });
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((r) => hooks.listen(0, "127.0.0.1", () => r()));
  const address = hooks.address();
  hookUrl = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`;
  stack = await startTestStack("e2e", { TROUPE_WEBHOOK_SCHEDULE: "500ms,500ms" });
});
afterAll(async () => {
  await stack?.stop();
  await new Promise((r) => hooks?.close(r));
});

const { api, finished } = stackApi(() => stack);

async function upload(bytes: Buffer): Promise<string> {
  const { body } = await api("/v1/uploads", { body: { contentType: "image/png", contentLength: bytes.length } });
  const put = await fetch(body.uploadUrl, { method: "PUT", headers: body.headers, body: bytes });
  expect(put.status).toBe(200);
  return body.id;
}

describe("end to end on the local stack", () => {
  it("turns a submission into a PNG of the requested size behind a presigned URL", async () => {
    const subjects = [{ uploadId: await upload(await referencePng("#36c")), box: [0, 0, 0.5, 1] }, { uploadId: await upload(await referencePng("#c33")), box: [0.5, 0, 1, 1] }];
    const created = await api("/v1/generations", { body: { prompt: "a man img and a woman img sitting in a park", subjects, steps: 8, width: 192, height: 128, seed: 3 } });
    expect(created.status).toBe(202);
    const job = await finished(created.body.id);
    expect(job).toMatchObject({ status: "succeeded", progress: { step: 8, totalSteps: 8 }, error: null });
    expect(job.metrics.inferenceMs).toBeGreaterThan(0);
    const image = await fetch(job.outputs[0].url);
    expect(image.headers.get("content-type")).toBe("image/png");
    const meta = await sharp(Buffer.from(await image.arrayBuffer())).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(["png", 192, 128]);
    expect(job.attentionMaps.map((m: { subject: number }) => m.subject)).toEqual([0, 1]);
    // Usage is recorded right after the transition: poll for it.
    await waitFor(async () => (await api("/v1/usage")).body.images.used === 1, { what: "usage recorded" });
  });

  it("signs one webhook per terminal state, and retries a failing receiver", async () => {
    const { body: secret } = await api("/v1/webhook-secret");
    const uploadId = await upload(await referencePng("#3a3"));
    failuresLeft = 2;
    const ok = await api("/v1/generations", { body: { prompt: "a dog img", subjects: [{ uploadId }], steps: 4, webhookUrl: `${hookUrl}/flaky` } });
    const done = await finished(ok.body.id);
    const flaky = await waitFor(() => {
      const d = deliveries.filter((x) => x.path === "/flaky");
      return d.some((x) => x.status === 204) ? d : null;
    }, { what: "flaky receiver served" });
    expect(flaky.map((d) => d.status)).toEqual([500, 500, 204]);
    expect(new Set(flaky.map((d) => d.headers["webhook-id"])).size).toBe(1);
    for (const d of flaky) expect(verifyWebhook(secret.secret, d.headers, d.body)).toBe(true);
    expect(JSON.parse(flaky[2].body)).toMatchObject({ id: done.id, status: "succeeded" });

    // A canceled job: exactly one delivery, for the canceled state.
    const queued = await api("/v1/generations", { body: { prompt: "a cat img", subjects: [{ uploadId }], steps: 150, webhookUrl: `${hookUrl}/cancel` } });
    await waitFor(async () => (await api(`/v1/generations/${queued.body.id}`)).body.progress.step > 0, { what: "running" });
    // The one runner is busy, so this job stays queued and the API itself cancels it (and records the delivery).
    const waiting = await api("/v1/generations", { body: { prompt: "a cat img", subjects: [{ uploadId }], steps: 2, webhookUrl: `${hookUrl}/cancel-queued` } });
    const canceledQueued = await api(`/v1/generations/${waiting.body.id}/cancel`, { method: "POST" });
    expect(canceledQueued).toMatchObject({ status: 202, body: { status: "canceled" } });
    expect((await api(`/v1/generations/${queued.body.id}/cancel`, { method: "POST" })).status).toBe(202);
    expect((await finished(queued.body.id)).status).toBe("canceled");
    for (const path of ["/cancel", "/cancel-queued"]) {
      const canceled = await waitFor(() => {
        const d = deliveries.filter((x) => x.path === path);
        return d.length ? d : null;
      }, { what: `cancel webhook at ${path}` });
      expect(canceled).toHaveLength(1);
      expect(JSON.parse(canceled[0].body).status).toBe("canceled");
      expect(verifyWebhook(secret.secret, canceled[0].headers, canceled[0].body)).toBe(true);
    }
  });
});
