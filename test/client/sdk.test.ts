import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import sharp from "sharp";
import { createAwsClients, destroyAwsClients, type AwsClients } from "@troupe/shared/aws/clients";
import { loadConfig, ResourceConfigSchema } from "@troupe/shared/config";
import { ApiKeyStore } from "@troupe/shared/records/api-keys";
import { createTroupeClient, TroupeError, type Job, type TroupeClient } from "@troupe/client";
import { readImage } from "@troupe/client/node";
import { startTestStack, type TestStack } from "../support/test-stack.ts";
import { referencePng } from "../support/seed-jobs.ts";
import { settled } from "../support/settled.ts";
import { waitFor } from "../support/wait-for.ts";

let stack: TestStack;
let dataDir: string;
let client: TroupeClient;
let uploadIds: string[];

beforeAll(async () => {
  stack = await startTestStack("sdk");
  dataDir = stack.dataDir;
  client = createTroupeClient({ baseUrl: stack.apiUrl, apiKey: stack.apiKey });
  // One PNG from a path, one JPEG from bytes: both content types detected from the magic bytes.
  const pngPath = join(dataDir, "a.png");
  writeFileSync(pngPath, await referencePng("#36c"));
  const jpeg = await sharp(await referencePng("#c33")).jpeg().toBuffer();
  uploadIds = [(await client.uploadFile(await readImage(pngPath))).id, (await client.uploadFile(jpeg)).id];
});
afterAll(async () => stack?.stop());

const twoSubjects = () => uploadIds.map((uploadId) => ({ uploadId }));
const small = { width: 192, height: 128 } as const;
const rejection = (p: Promise<unknown>) => p.then(() => undefined, (e: unknown) => e as TroupeError);

describe("run", () => {
  it("reports queued, then running steps, then the terminal job, in order and without repeats", async () => {
    const seen: Job[] = [];
    const job = await client.run(
      { prompt: "a man img and a woman img sitting in a park", subjects: twoSubjects(), steps: 60, seed: 5, ...small },
      { onProgress: (j) => seen.push(j), pollIntervalMs: 20 },
    );
    expect(job).toMatchObject({ status: "succeeded", progress: { step: 60, totalSteps: 60 } });
    expect(job.outputs).toHaveLength(1);

    const states = seen.map((j) => `${j.status}:${j.progress.step}`);
    expect(states[0]).toBe("queued:0");
    expect(states.at(-1)).toBe("succeeded:60");
    expect(states.some((s) => s.startsWith("running:"))).toBe(true);
    states.slice(1).forEach((s, i) => expect(s).not.toBe(states[i]));
    const order = ["queued", "running", "succeeded"];
    const ranks = seen.map((j) => order.indexOf(j.status) * 1000 + j.progress.step);
    expect(ranks).toEqual([...ranks].sort((a, b) => a - b));
  });

  it("cancels the job when aborted mid-run and rejects with code canceled", async () => {
    const controller = new AbortController();
    let id = "";
    const error = await rejection(
      client.run(
        { prompt: "a cat img", subjects: [{ uploadId: uploadIds[0] }], steps: 150, ...small },
        {
          signal: controller.signal,
          pollIntervalMs: 20,
          onProgress: (j) => {
            id = j.id;
            if (j.status === "running" && j.progress.step > 0) controller.abort();
          },
        },
      ),
    );
    expect(error).toBeInstanceOf(TroupeError);
    expect(error).toMatchObject({ code: "canceled", name: "AbortError" });
    const final = await settled(client, id);
    expect(final.status).toBe("canceled");
  });
});

describe("synchronous mode (Prefer: wait)", () => {
  it("answers with the finished job when it ends within the wait", async () => {
    const job = await client.generations.create({ prompt: "a dog img", subjects: [{ uploadId: uploadIds[0] }], steps: 2, ...small }, { wait: 30 });
    expect(job.status).toBe("succeeded");
    expect(job.queue).toBeNull();
    expect(job.outputs).toHaveLength(1);
  });

  it("answers with the pending job when the wait runs out first", async () => {
    const job = await client.generations.create({ prompt: "a dog img", subjects: [{ uploadId: uploadIds[0] }], steps: 150, ...small }, { wait: 1 });
    expect(["queued", "running"]).toContain(job.status);
    await client.generations.cancel(job.id);
  });

  it("run uploads bytes itself and waits synchronously", async () => {
    const bytes = await referencePng("#3c6");
    const job = await client.run({ prompt: "a cat img", subjects: [{ file: bytes, box: [0, 0, 1, 1] }], steps: 2, ...small }, { wait: 30 });
    expect(job.status).toBe("succeeded");
    expect(job.input.subjects[0]?.uploadId).toMatch(/^upl_/);
  });
});

describe("queue estimates", () => {
  it("a queued job reports its position and times, a running one its finish, a finished one none", async () => {
    const input = { prompt: "a dog img", subjects: [{ uploadId: uploadIds[0]! }], ...small };
    // One runner: the first job runs while the second waits behind it.
    const first = await client.generations.create({ ...input, steps: 150, numImages: 4 });
    const second = await client.generations.create({ ...input, steps: 150 });
    const queued = await waitFor(async () => {
      const job = await client.generations.get(second.id);
      return job.status === "queued" && job.queue?.estimatedStartAt ? job : null;
    }, { what: "a queued job with an estimated start" });
    expect(queued.queue!.position).toBeGreaterThanOrEqual(1);
    expect(Date.parse(queued.queue!.estimatedFinishAt!)).toBeGreaterThan(Date.parse(queued.queue!.estimatedStartAt!));

    const running = await waitFor(async () => {
      const job = await client.generations.get(first.id);
      return job.status === "running" && job.progress.step > 0 ? job : null;
    }, { what: "the first job running" });
    expect(running.queue).toMatchObject({ position: 0, estimatedStartAt: running.startedAt, estimatedFinishAt: expect.any(String) });

    await client.generations.cancel(first.id);
    await client.generations.cancel(second.id);
    expect((await settled(client, second.id)).queue).toBeNull();
  });
});

describe("subjects by image URL", () => {
  it("fetches the image once, keeps it as an upload and runs the job; refuses private hosts and non-images", async () => {
    const png = await referencePng("#963");
    let fetched = 0;
    const host = createServer((req, res) => {
      fetched++;
      if (req.url === "/a.png") res.writeHead(200, { "content-type": "image/png" }).end(png);
      else res.writeHead(200, { "content-type": "image/png" }).end("<html>not an image</html>");
    });
    await new Promise<void>((r) => host.listen(0, "127.0.0.1", () => r()));
    const base = `http://127.0.0.1:${(host.address() as AddressInfo).port}`;
    try {
      const job = await client.run({ prompt: "a dog img", subjects: [{ imageUrl: `${base}/a.png`, box: [0, 0, 1, 1] }], steps: 2, ...small }, { wait: 30 });
      expect(job.status).toBe("succeeded");
      expect(job.input.subjects).toEqual([{ uploadId: expect.stringMatching(/^upl_/), box: [0, 0, 1, 1] }]);
      expect(fetched).toBe(1);

      const notImage = await rejection(client.generations.create({ prompt: "a dog img", subjects: [{ imageUrl: `${base}/page.html` }] }));
      expect(notImage).toMatchObject({ code: "upload_invalid", status: 422, details: { subject: 0, reason: "not_an_image", path: ["subjects", 0, "imageUrl"] } });
      // Local mode allows loopback, never a private network or the metadata service.
      const privateHost = await rejection(client.generations.create({ prompt: "a dog img", subjects: [{ imageUrl: "http://169.254.169.254/latest/meta-data" }] }));
      expect(privateHost).toMatchObject({ code: "invalid_request", status: 400, details: { reason: "private_address" } });
      const both = await rejection(client.generations.create({ prompt: "a dog img", subjects: [{ imageUrl: `${base}/a.png`, uploadId: uploadIds[0] }] }));
      expect(both).toMatchObject({ code: "invalid_request", status: 400 });
    } finally {
      host.closeAllConnections();
      await new Promise((r) => host.close(r));
    }
  });
});

describe("subjects and deletion", () => {
  // A key of its own: its deleted jobs' tombstones shorten list pages, which the other tests here page through.
  let aws: AwsClients;
  let own: TroupeClient;
  let photos: string[];
  beforeAll(async () => {
    const config = loadConfig(ResourceConfigSchema, { TROUPE_S3_ENDPOINT: stack.endpoints.s3, TROUPE_SQS_ENDPOINT: stack.endpoints.sqs, TROUPE_DYNAMODB_ENDPOINT: stack.endpoints.dynamodb });
    aws = createAwsClients(config);
    const { key } = await new ApiKeyStore(aws.ddb, config.TROUPE_KEYS_TABLE).create({ name: "sdk-subjects", monthlyImages: 100, ratePerMinute: 10_000 });
    own = createTroupeClient({ baseUrl: stack.apiUrl, apiKey: key });
    photos = [(await own.uploadFile(await referencePng("#36c"))).id, (await own.uploadFile(await referencePng("#c33"))).id];
  });
  afterAll(() => aws && destroyAwsClients(aws));

  it("creates a subject from an upload, reuses it in jobs, reads, lists and deletes it (then 404)", async () => {
    const subject = await own.subjects.create({ uploadId: photos[0]! });
    expect(subject).toMatchObject({ id: expect.stringMatching(/^sub_/), contentType: "image/png", source: { uploadId: photos[0] } });
    expect(await own.subjects.get(subject.id)).toEqual(subject);
    // Another key's subject does not exist for this one.
    expect(await rejection(client.subjects.get(subject.id))).toMatchObject({ code: "not_found", status: 404 });

    // Reused in two jobs, one through run(), no upload in between.
    const job = await own.run({ prompt: "a man img and a woman img", subjects: [{ subjectId: subject.id }, { uploadId: photos[1] }], steps: 2, ...small }, { wait: 30 });
    expect(job.status).toBe("succeeded");
    expect(job.input.subjects[0]).toEqual({ subjectId: subject.id });
    expect((await own.run({ prompt: "a dog img", subjects: [{ subjectId: subject.id }], steps: 2, ...small }, { wait: 30 })).status).toBe("succeeded");

    const other = await own.subjects.create({ uploadId: photos[1]! });
    const page = await own.subjects.list({ limit: 1 });
    expect(page.data.map((s) => s.id)).toEqual([other.id]);
    const next = await own.subjects.list({ limit: 1, cursor: page.nextCursor! });
    expect(next.data.map((s) => s.id)).toEqual([subject.id]);

    await expect(own.subjects.delete(subject.id)).resolves.toBeUndefined();
    expect(await rejection(own.subjects.get(subject.id))).toMatchObject({ code: "not_found", status: 404 });
    expect(await rejection(own.subjects.delete(subject.id))).toMatchObject({ code: "not_found", status: 404 });
    expect(await rejection(own.generations.create({ prompt: "a dog img", subjects: [{ subjectId: subject.id }] }))).toMatchObject({ code: "unknown_subject", status: 422 });
    await own.subjects.delete(other.id);
  });

  it("creates a subject from an image URL", async () => {
    const png = await referencePng("#639");
    const host = createServer((_, res) => res.writeHead(200, { "content-type": "image/png" }).end(png));
    await new Promise<void>((r) => host.listen(0, "127.0.0.1", () => r()));
    try {
      const subject = await own.subjects.create({ imageUrl: `http://127.0.0.1:${(host.address() as AddressInfo).port}/s.png` });
      expect(subject).toMatchObject({ contentType: "image/png", contentLength: png.byteLength, source: { uploadId: expect.stringMatching(/^upl_/) } });
      await own.subjects.delete(subject.id);
    } finally {
      host.closeAllConnections();
      await new Promise((r) => host.close(r));
    }
  });

  it("deletes an upload (jobs then refuse it) and a generation (then 404)", async () => {
    const upload = await own.uploadFile(await referencePng("#699"));
    await expect(own.uploads.delete(upload.id)).resolves.toBeUndefined();
    expect(await rejection(own.generations.create({ prompt: "a dog img", subjects: [{ uploadId: upload.id }] }))).toMatchObject({ code: "unknown_upload", status: 422 });
    expect(await rejection(own.uploads.delete(upload.id))).toMatchObject({ code: "not_found", status: 404 });

    const job = await own.generations.create({ prompt: "a dog img", subjects: [{ uploadId: photos[0] }], steps: 2, ...small }, { wait: 30 });
    expect(job.status).toBe("succeeded");
    await expect(own.generations.delete(job.id)).resolves.toBeUndefined();
    expect(await rejection(own.generations.get(job.id))).toMatchObject({ code: "not_found", status: 404 });
    expect((await own.generations.list({ limit: 100 })).data.map((j) => j.id)).not.toContain(job.id);
  });
});

describe("resources", () => {
  it("creates, reads, lists and idempotently repeats generations", async () => {
    const input = { prompt: "a dog img", subjects: [{ uploadId: uploadIds[0] }], steps: 2, ...small };
    const first = await client.generations.create(input, { idempotencyKey: "sdk-test-1" });
    const again = await client.generations.create(input, { idempotencyKey: "sdk-test-1" });
    expect(again.id).toBe(first.id);
    expect((await client.generations.get(first.id)).id).toBe(first.id);

    const page = await client.generations.list({ limit: 1 });
    expect(page.data).toHaveLength(1);
    expect(page.nextCursor).toEqual(expect.any(String));
    const next = await client.generations.list({ limit: 1, cursor: page.nextCursor! });
    expect(next.data[0].id).not.toBe(page.data[0].id);

    const usage = await client.usage();
    expect(usage.images.limit).toBeGreaterThan(0);
  });

  it("reads and rotates the webhook secret", async () => {
    const before = await client.webhookSecret.get();
    const rotated = await client.webhookSecret.rotate();
    expect(rotated.secret).toMatch(/^whsec_/);
    expect(rotated.secret).not.toBe(before.secret);
    expect((await client.webhookSecret.get()).secret).toBe(rotated.secret);
  });
});

describe("typed errors carry the API's code, status and request id", () => {
  it.each([
    ["unauthorized", 401, () => createTroupeClient({ baseUrl: stack.apiUrl, apiKey: "trp_nope" }).usage()],
    ["not_found", 404, () => client.generations.get("gen_doesnotexist00")],
    ["invalid_request", 400, () => client.generations.create({ prompt: "a dog img", subjects: [{ uploadId: uploadIds[0] }], steps: 1000 })],
    ["image_token_mismatch", 422, () => client.generations.create({ prompt: "a man img and a woman", subjects: twoSubjects() })],
    ["image_token_invalid", 422, () => client.generations.create({ prompt: "img a man", subjects: [{ uploadId: uploadIds[0] }] })],
    ["unknown_upload", 422, () => client.generations.create({ prompt: "a dog img", subjects: [{ uploadId: "upl_0000000000000" }] })],
  ] as const)("%s → %i", async (code, status, call) => {
    const e = await rejection(call());
    expect(e).toBeInstanceOf(TroupeError);
    expect(e).toMatchObject({ code, status, requestId: expect.stringMatching(/^req_/) });
  });

  it("not_cancelable and idempotency_conflict → 409", async () => {
    const input = { prompt: "a dog img", subjects: [{ uploadId: uploadIds[0] }], steps: 1, ...small };
    const done = await client.run(input, { pollIntervalMs: 20, idempotencyKey: "sdk-test-conflict" });
    expect(await rejection(client.generations.cancel(done.id))).toMatchObject({ code: "not_cancelable", status: 409 });
    const changed = rejection(client.generations.create({ ...input, seed: 1 }, { idempotencyKey: "sdk-test-conflict" }));
    expect(await changed).toMatchObject({ code: "idempotency_conflict", status: 409 });
  });

  it("refuses a file that is no image before asking the API", async () => {
    const e = await rejection(client.uploadFile(Buffer.from("definitely not an image")));
    expect(e).toMatchObject({ code: "upload_invalid", status: 0 });
  });
});
