import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { GetObjectCommand, ListObjectsV2Command } from "@aws-sdk/client-s3";
import { GetCommand } from "@aws-sdk/lib-dynamodb";
import { PNG_BYTES, startHarness, type Harness } from "./support/harness.ts";

/**
 * POST /v1/subjects from `{imageUrl}` (DESIGN §2: "a reusable subject from an upload or image URL"),
 * and the key's upload retention on every image the API fetches from a URL. Local mode, so a
 * loopback image host is allowed; the harness's DNS knows no names, so only IP literals resolve.
 */
let h: Harness;
let host: Server;
let base: string;
const fetched: string[] = [];
/** The `x-amz-tagging` header of every PutObject the API sends, by object key (s3rver accepts it but does not keep it). */
const putTags = new Map<string, string | undefined>();

beforeAll(async () => {
  h = await startHarness();
  host = createServer((req, res) => {
    fetched.push(req.url ?? "");
    if (req.url === "/a.png") res.writeHead(200, { "content-type": "image/png" }).end(PNG_BYTES);
    else res.writeHead(200, { "content-type": "image/png" }).end("<html>not an image</html>");
  });
  await new Promise<void>((r) => host.listen(0, "127.0.0.1", () => r()));
  base = `http://127.0.0.1:${(host.address() as AddressInfo).port}`;
  // Observes the real requests on their way to s3rver; changes nothing.
  h.t.clients.s3.middlewareStack.add(
    (next, context) => async (args) => {
      const request = args.request as { path?: string; headers?: Record<string, string> };
      if (context.commandName === "PutObjectCommand" && request.path) putTags.set(decodeURIComponent(request.path).replace(/^\/[^/]+\//, ""), request.headers?.["x-amz-tagging"]);
      return next(args);
    },
    { step: "finalizeRequest", name: "observePutTagging" },
  );
});
afterAll(async () => {
  h?.t.clients.s3.middlewareStack.remove("observePutTagging");
  host?.closeAllConnections();
  await new Promise((r) => host?.close(r));
  await h?.stop();
});

const objectBytes = async (key: string) =>
  Buffer.from(await (await h.t.clients.s3.send(new GetObjectCommand({ Bucket: h.deps.config.TROUPE_BUCKET, Key: key }))).Body!.transformToByteArray());
const keysUnder = async (prefix: string) =>
  ((await h.t.clients.s3.send(new ListObjectsV2Command({ Bucket: h.deps.config.TROUPE_BUCKET, Prefix: prefix }))).Contents ?? []).map((o) => o.Key!);
const uploadRecord = async (tenantId: string, id: string) =>
  (await h.t.clients.ddb.send(new GetCommand({ TableName: h.deps.config.TROUPE_JOBS_TABLE, Key: { tenantId, id }, ConsistentRead: true }))).Item;

describe("POST /v1/subjects from an image URL", () => {
  it("fetches the image once, keeps it as an upload, and makes a subject a job can use", async () => {
    const { key, keyId } = await h.newKey();
    fetched.length = 0;
    const created = await h.call("POST", "/v1/subjects", { key, body: { imageUrl: `${base}/a.png` } });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ id: expect.stringMatching(/^sub_/), contentType: "image/png", contentLength: PNG_BYTES.byteLength, source: { uploadId: expect.stringMatching(/^upl_/) } });
    expect(fetched).toEqual(["/a.png"]);
    const { id, source } = created.body as { id: string; source: { uploadId: string } };
    // The photo twice: as the upload it was kept as, and as the subject's own copy.
    expect(await objectBytes(`uploads/${keyId}/${source.uploadId}`)).toEqual(PNG_BYTES);
    expect(await objectBytes(`subjects/${keyId}/${id}/image`)).toEqual(PNG_BYTES);
    expect(await uploadRecord(keyId, source.uploadId)).toMatchObject({ contentType: "image/png", contentLength: PNG_BYTES.byteLength });

    expect((await h.call("GET", `/v1/subjects/${id}`, { key })).body).toEqual(created.body);
    const submitted = await h.call("POST", "/v1/generations", { key, body: { prompt: "a dog img", subjects: [{ subjectId: id }], steps: 2 } });
    expect(submitted.status).toBe(202);
    expect(fetched).toHaveLength(1); // the job reads the subject, never the URL
    await h.drainQueue();
  });

  it("a job's image URL is fetched and stored once: a replay with the same Idempotency-Key stores nothing", async () => {
    const { key, keyId } = await h.newKey();
    fetched.length = 0;
    const body = { prompt: "a dog img", subjects: [{ imageUrl: `${base}/a.png` }], steps: 2 };
    const first = await h.call("POST", "/v1/generations", { key, body, headers: { "idempotency-key": "url-replay" } });
    expect(first.status).toBe(202);
    const again = await h.call("POST", "/v1/generations", { key, body, headers: { "idempotency-key": "url-replay" } });
    expect(again.status).toBe(202);
    expect(again.body.id).toBe(first.body.id);
    expect(fetched).toEqual(["/a.png"]);
    expect(await keysUnder(`uploads/${keyId}/`)).toHaveLength(1);
    await h.drainQueue();
  });

  it("refuses with the job subjects' codes, naming the body's field, and keeps nothing", async () => {
    const { key, keyId } = await h.newKey();
    const notImage = await h.call("POST", "/v1/subjects", { key, body: { imageUrl: `${base}/page.html` } });
    expect(notImage.status).toBe(422);
    expect(notImage.body.error).toMatchObject({ code: "upload_invalid", details: { reason: "not_an_image", path: ["imageUrl"] } });
    expect(notImage.body.error.message).toMatch(/^imageUrl is not a JPEG, PNG or WebP image/);
    expect(notImage.body.error.details.subject).toBeUndefined();

    const metadata = await h.call("POST", "/v1/subjects", { key, body: { imageUrl: "http://169.254.169.254/latest/meta-data" } });
    expect(metadata.status).toBe(400);
    expect(metadata.body.error).toMatchObject({ code: "invalid_request", details: { reason: "private_address", path: ["imageUrl"] } });
    const unknownHost = await h.call("POST", "/v1/subjects", { key, body: { imageUrl: "https://no-such-host.example.org/a.png" } });
    expect(unknownHost.body.error).toMatchObject({ code: "invalid_request", details: { reason: "dns" } });

    const both = await h.call("POST", "/v1/subjects", { key, body: { imageUrl: `${base}/a.png`, uploadId: await h.upload(key) } });
    expect(both.status).toBe(400);
    expect(both.body.error.message).toMatch(/exactly one of uploadId or imageUrl/);
    expect((await h.call("POST", "/v1/subjects", { key, body: {} })).status).toBe(400);
    expect((await h.call("POST", "/v1/subjects", { key, body: { imageUrl: "not a url" } })).status).toBe(400);

    expect((await h.call("GET", "/v1/subjects", { key })).body.data).toEqual([]);
    expect(await keysUnder(`subjects/${keyId}/`)).toEqual([]);
  });

  it("is documented on the create operation", async () => {
    const { body: doc } = await h.call("GET", "/openapi.json");
    expect(doc.paths["/v1/subjects"].post.operationId).toBe("createSubject");
    expect(doc.components.schemas.CreateSubject.properties).toHaveProperty("imageUrl");
    expect(doc.components.schemas.CreateSubject.properties).toHaveProperty("uploadId");
  });
});

describe("an image URL's upload carries the key's upload retention", () => {
  it("tags the object and shortens the record's expiry, for subjects and job subjects alike; a key without retention gets neither", async () => {
    const { key, keyId } = await h.newKey();
    expect(await h.deps.stores.keys.setRetention(keyId, { uploadsDays: 1 })).toBe(true);
    const subject = (await h.call("POST", "/v1/subjects", { key, body: { imageUrl: `${base}/a.png` } })).body;
    const job = (await h.call("POST", "/v1/generations", { key, body: { prompt: "a dog img", subjects: [{ imageUrl: `${base}/a.png` }], steps: 2 } })).body;
    await h.drainQueue();
    const jobUpload = job.input.subjects[0].uploadId as string;
    for (const uploadId of [subject.source.uploadId as string, jobUpload]) {
      expect(putTags.get(`uploads/${keyId}/${uploadId}`)).toBe("troupe-retention-days=1");
      const record = await uploadRecord(keyId, uploadId);
      expect(record!.expiresAt - Date.parse(record!.createdAt) / 1000).toBeCloseTo(24 * 3600, -1);
    }
    // The subject's own copy lives until DELETE: no retention tag.
    expect(putTags.has(`subjects/${keyId}/${subject.id}/image`)).toBe(true);
    expect(putTags.get(`subjects/${keyId}/${subject.id}/image`)).toBeUndefined();

    const plain = await h.newKey();
    const plainSubject = (await h.call("POST", "/v1/subjects", { key: plain.key, body: { imageUrl: `${base}/a.png` } })).body;
    const uploadId = plainSubject.source.uploadId as string;
    expect(putTags.has(`uploads/${plain.keyId}/${uploadId}`)).toBe(true);
    expect(putTags.get(`uploads/${plain.keyId}/${uploadId}`)).toBeUndefined();
    const record = await uploadRecord(plain.keyId, uploadId);
    expect(record!.expiresAt - Date.parse(record!.createdAt) / 1000).toBeCloseTo(7 * 24 * 3600, -1);
  });
});
