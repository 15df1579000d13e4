import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HeadObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { uploadKey, type UploadStore } from "@troupe/shared/records/uploads";
import { createApp } from "../../functions/src/app.ts";
import { PNG_BYTES, startHarness, type Harness } from "./support/harness.ts";

// A submission judges each upload by its object alone: the object's metadata carries what was declared
// (signed into the presigned PUT's query, create-upload.ts), so the upload record is read only when the
// object is missing or carries no declaration (upload-checks.ts).
let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => h?.stop());

/** The app over an upload store that counts its reads. */
function countingApp() {
  const reads: string[] = [];
  const real = h.deps.stores.uploads;
  const uploads = Object.assign(Object.create(Object.getPrototypeOf(real)) as UploadStore, real, {
    get: async (tenantId: string, id: string) => {
      reads.push(id);
      return real.get(tenantId, id);
    },
  });
  return { app: createApp({ ...h.deps, stores: { ...h.deps.stores, uploads } }), reads };
}

const submit = (app: ReturnType<typeof createApp>, key: string, body: unknown) =>
  app.request("/v1/generations", { method: "POST", headers: { authorization: `Bearer ${key}`, "content-type": "application/json" }, body: JSON.stringify(body) });

describe("subjects' uploads, judged by their objects", () => {
  it("accepts two uploads, and the same upload twice, without reading an upload record", async () => {
    const { key } = await h.newKey();
    const [a, b] = [await h.upload(key), await h.upload(key)];
    const { app, reads } = countingApp();
    for (const subjects of [[{ uploadId: a }, { uploadId: b }], [{ uploadId: a }, { uploadId: a }]]) {
      const res = await submit(app, key, { prompt: "a man img and a woman img", subjects });
      expect(res.status).toBe(202);
      expect(((await res.json()) as { input: { subjects: unknown[] } }).input.subjects).toEqual(subjects.map((s) => expect.objectContaining(s)));
    }
    expect(reads).toEqual([]);
    expect(await h.drainQueue()).toHaveLength(2);
  });

  it("carries the declaration in the presigned URL's signed query, so the PUT needs no other header", async () => {
    const { key, keyId } = await h.newKey();
    const slot = await h.call("POST", "/v1/uploads", { key, body: { contentType: "image/png", contentLength: PNG_BYTES.length } });
    const query = new URL(slot.body.uploadUrl).searchParams;
    expect(query.get("x-amz-meta-troupe-content-length")).toBe(String(PNG_BYTES.length));
    expect(query.get("x-amz-meta-troupe-content-type")).toBe("image/png");
    expect(query.get("X-Amz-SignedHeaders")).toBe("content-length;content-type;host");
    expect(Object.keys(slot.body.headers)).toEqual(["content-type"]);
    await fetch(slot.body.uploadUrl, { method: "PUT", headers: slot.body.headers, body: PNG_BYTES });
    const head = await h.t.clients.s3.send(new HeadObjectCommand({ Bucket: h.deps.config.TROUPE_BUCKET, Key: uploadKey(keyId, slot.body.id) }));
    expect(head.Metadata).toEqual({ "troupe-content-length": String(PNG_BYTES.length), "troupe-content-type": "image/png" });
  });

  it("judges an object without a declaration (uploaded before it was written) by its record", async () => {
    const { key, keyId } = await h.newKey();
    const { app, reads } = countingApp();
    const bare = async (declaredLength: number) => {
      const slot = await h.call("POST", "/v1/uploads", { key, body: { contentType: "image/png", contentLength: declaredLength } });
      await h.t.clients.s3.send(new PutObjectCommand({ Bucket: h.deps.config.TROUPE_BUCKET, Key: uploadKey(keyId, slot.body.id), Body: PNG_BYTES, ContentType: "image/png" }));
      return slot.body.id as string;
    };
    const ok = await bare(PNG_BYTES.length);
    expect((await submit(app, key, { prompt: "a dog img", subjects: [{ uploadId: ok }] })).status).toBe(202);
    const short = await bare(PNG_BYTES.length + 10);
    const refused = await submit(app, key, { prompt: "a dog img", subjects: [{ uploadId: short }] });
    expect(refused.status).toBe(422);
    expect(((await refused.json()) as { error: { code: string; details: unknown } }).error).toMatchObject({
      code: "upload_invalid",
      details: { size: PNG_BYTES.length, declared: PNG_BYTES.length + 10 },
    });
    expect(reads).toEqual([ok, short]);
    expect(await h.drainQueue()).toHaveLength(1);
  });

  it("refuses another key's or an unknown upload as the second subject, naming it, and writes nothing", async () => {
    const mine = await h.newKey();
    const other = await h.newKey();
    const ours = await h.upload(mine.key);
    const theirs = await h.upload(other.key);
    for (const second of [theirs, "upl_00000000000000000000000000"]) {
      const res = await h.call("POST", "/v1/generations", { key: mine.key, body: { prompt: "a man img and a woman img", subjects: [{ uploadId: ours }, { uploadId: second }] } });
      expect({ status: res.status, code: res.body.error.code }).toEqual({ status: 422, code: "unknown_upload" });
      expect(res.body.error.details).toMatchObject({ subject: 1, uploadId: second });
      expect(res.body.error.message).toContain(`no upload ${second} for this key`);
    }
    // Recorded but never PUT: said so.
    const slot = await h.call("POST", "/v1/uploads", { key: mine.key, body: { contentType: "image/png", contentLength: PNG_BYTES.length } });
    const notYet = await h.call("POST", "/v1/generations", { key: mine.key, body: { prompt: "a dog img", subjects: [{ uploadId: slot.body.id }] } });
    expect(notYet.body.error).toMatchObject({ code: "unknown_upload", message: expect.stringContaining("was not uploaded yet") });
    expect(await h.countJobs(mine.keyId)).toBe(0);
    expect(await h.drainQueue()).toEqual([]);
  });
});
