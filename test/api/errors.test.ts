import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startHarness, PNG_BYTES, type ApiResponse, type Harness, type RequestOptions } from "./support/harness.ts";

let h: Harness;
let key: string;
let keyId: string;
let photo: string;
let photo2: string;
beforeAll(async () => {
  h = await startHarness();
  ({ key, keyId } = await h.newKey());
  photo = await h.upload(key);
  photo2 = await h.upload(key);
});
afterAll(async () => h?.stop());

const valid = (extra: Record<string, unknown> = {}) => ({ prompt: "a man img and a woman img", subjects: [{ uploadId: photo }, { uploadId: photo2 }], ...extra });

function expectError(res: ApiResponse, status: number, code: string): void {
  expect({ status: res.status, code: res.body?.error?.code }).toEqual({ status, code });
  expect(res.body.error.message).toEqual(expect.any(String));
  expect(res.body.error.requestId).toBe(res.headers.get("x-request-id"));
}

/** A rejected submission leaves no job, no extra object in the bucket and no message. */
async function rejectsSubmission(options: RequestOptions, status: number, code: string, tenant = keyId): Promise<ApiResponse> {
  const objects = await h.countObjects("");
  const res = await h.call("POST", "/v1/generations", { key, ...options });
  expectError(res, status, code);
  expect(await h.countJobs(tenant)).toBe(0);
  expect(await h.countObjects("")).toBe(objects);
  expect(await h.drainQueue()).toEqual([]);
  return res;
}

describe("400 invalid_request", () => {
  it.each([
    ["no prompt", { prompt: undefined }, ["prompt"]],
    ["too many images", { numImages: 5 }, ["numImages"]],
    ["a bad box", { subjects: [{ uploadId: "upl_0000000000", box: [0.5, 0, 0.4, 1] }, { uploadId: "upl_0000000001" }] }, ["subjects", 0, "box"]],
    ["an unknown field", { colour: "red" }, []],
    ["an unknown scheduler", { scheduler: "lms" }, ["scheduler"]],
    ["a seed out of range", { seed: 2 ** 32 }, ["seed"]],
  ])("refuses a body with %s, listing the zod issues", async (_what, patch, path) => {
    const res = await rejectsSubmission({ body: valid(patch) }, 400, "invalid_request");
    expect(res.body.error.details).toEqual(expect.arrayContaining([expect.objectContaining({ path, message: expect.any(String) })]));
  });

  it.each([
    [{ width: 100 }, "width"],
    [{ height: 512 }, "height"],
    [{ width: 32 }, "width"],
  ])("refuses a size outside the model's sizes (%o) naming the field", async (size, field) => {
    const res = await rejectsSubmission({ body: valid(size) }, 400, "invalid_request");
    expect(res.body.error.details).toEqual([expect.objectContaining({ path: [field] })]);
  });

  it("refuses a job over the manifest's memory budget (numImages × width × height > maxJobPixels), naming the limit", async () => {
    const res = await rejectsSubmission({ body: valid({ numImages: 3, width: 256, height: 256 }) }, 400, "invalid_request");
    expect(res.body.error.message).toMatch(/maxJobPixels/);
    expect(res.body.error.details).toEqual([expect.objectContaining({ path: ["numImages"] })]);
  });

  it("refuses more subjects than the model takes", async () => {
    const body = { prompt: "a man img a woman img a dog img", subjects: [{ uploadId: photo }, { uploadId: photo2 }, { uploadId: photo }] };
    const res = await rejectsSubmission({ body }, 400, "invalid_request");
    expect(res.body.error.details).toEqual([expect.objectContaining({ path: ["subjects"] })]);
  });

  it("refuses malformed JSON, a non-JSON content type and a bad Idempotency-Key", async () => {
    await rejectsSubmission({ body: "{not json", headers: { "content-type": "application/json" } }, 400, "invalid_request");
    await rejectsSubmission({ body: "prompt=x", headers: { "content-type": "application/x-www-form-urlencoded" } }, 400, "invalid_request");
    await rejectsSubmission({ body: valid(), headers: { "idempotency-key": "k".repeat(256) } }, 400, "invalid_request");
  });

  it("refuses webhook URLs that are not https or reach private hosts", async () => {
    for (const webhookUrl of ["ftp://hooks.example.com/x", "https://10.0.0.1/x", "https://[::ffff:169.254.169.254]/", "https://rebind.example.com/x"]) {
      const res = await rejectsSubmission({ body: valid({ webhookUrl }) }, 400, "invalid_request");
      expect(res.body.error.details).toEqual([expect.objectContaining({ path: ["webhookUrl"] })]);
    }
  });

  it("refuses a bad list limit or cursor and a bad upload body", async () => {
    expectError(await h.call("GET", "/v1/generations?limit=0", { key }), 400, "invalid_request");
    expectError(await h.call("GET", "/v1/generations?limit=101", { key }), 400, "invalid_request");
    expectError(await h.call("GET", "/v1/generations?cursor=bm9wZQ", { key }), 400, "invalid_request");
    const objects = await h.countObjects("uploads/");
    expectError(await h.call("POST", "/v1/uploads", { key, body: { contentType: "image/gif", contentLength: 10 } }), 400, "invalid_request");
    expectError(await h.call("POST", "/v1/uploads", { key, body: { contentType: "image/png", contentLength: 10 * 1024 * 1024 + 1 } }), 400, "invalid_request");
    expect(await h.countObjects("uploads/")).toBe(objects);
  });
});

describe("401 unauthorized", () => {
  it.each([
    ["no header", {}],
    ["another scheme", { authorization: "Basic dXNlcjpwYXNz" }],
    ["a malformed key", { authorization: "Bearer nonsense" }],
    ["an unknown key", { authorization: `Bearer trp_key_${"0".repeat(25)}.${"A".repeat(43)}` }],
  ])("refuses %s", async (_what, headers) => {
    expectError(await h.call("GET", "/v1/usage", { headers }), 401, "unauthorized");
    expectError(await h.call("POST", "/v1/generations", { headers, body: valid() }), 401, "unauthorized");
  });

  it("refuses a revoked key", async () => {
    const revoked = await h.newKey();
    expect((await h.call("GET", "/v1/usage", { key: revoked.key })).status).toBe(200);
    await h.deps.stores.keys.revoke(revoked.keyId);
    expectError(await h.call("GET", "/v1/usage", { key: revoked.key }), 401, "unauthorized");
  });
});

describe("404 not_found and tenant isolation", () => {
  it("hides another key's jobs and uploads", async () => {
    const other = await h.newKey();
    const theirs = await h.upload(other.key);
    const created = await h.call("POST", "/v1/generations", { key: other.key, body: { prompt: "a dog img", subjects: [{ uploadId: theirs }] } });
    expect(created.status).toBe(202);
    await h.drainQueue();
    expectError(await h.call("GET", `/v1/generations/${created.body.id}`, { key }), 404, "not_found");
    expectError(await h.call("POST", `/v1/generations/${created.body.id}/cancel`, { key }), 404, "not_found");
    expect((await h.call("GET", "/v1/generations", { key })).body.data).toEqual([]);
    const res = await rejectsSubmission({ body: { prompt: "a dog img", subjects: [{ uploadId: theirs }] } }, 422, "unknown_upload");
    expect(res.body.error.details).toMatchObject({ subject: 0, uploadId: theirs });
    expect((await h.call("GET", `/v1/generations/${created.body.id}`, { key: other.key })).status).toBe(200);
  });

  it("answers unknown ids and routes in the error shape", async () => {
    expectError(await h.call("GET", "/v1/generations/gen_00000000000000000000000000", { key }), 404, "not_found");
    expectError(await h.call("GET", "/v1/generations/whatever", { key }), 404, "not_found");
    expectError(await h.call("GET", "/nope"), 404, "not_found");
    expectError(await h.call("DELETE", "/v1/generations", { key }), 404, "not_found");
  });
});

describe("413 payload_too_large", () => {
  it("refuses a body over 64 KiB, by its declared length or by what arrives", async () => {
    await rejectsSubmission({ body: valid({ negativePrompt: "x".repeat(70 * 1024) }) }, 413, "payload_too_large");
    const big = JSON.stringify(valid({ negativePrompt: "x".repeat(70 * 1024) }));
    const lying = new Request("http://api/v1/generations", {
      method: "POST",
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json", "content-length": "100" },
      body: big,
    });
    const res = await h.app.request(lying);
    expect(res.status).toBe(413);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("payload_too_large");
    const chunked = await h.app.request("/v1/generations", {
      method: "POST",
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
      body: new Blob([big]).stream(),
      duplex: "half",
    } as RequestInit);
    expect(chunked.status).toBe(413);
    expect(await h.countJobs(keyId)).toBe(0);
  });
});

describe("422 prompt and upload errors", () => {
  it.each([
    ["image_token_mismatch", "a man img and a woman", 2],
    ["image_token_mismatch", "a man img and a woman img", 1],
    ["image_token_invalid", "img a man and a woman img", 2],
    ["image_token_invalid", "a man img img and a woman", 2],
    ["image_token_invalid", "a man, img and a woman img", 2],
    ["prompt_too_long", `${"a very long prompt about a sunny park ".repeat(12)} a man img and a woman img`, 2],
  ])("%s for %j", async (code, prompt, n) => {
    const subjects = [{ uploadId: photo }, { uploadId: photo2 }].slice(0, n);
    const res = await rejectsSubmission({ body: { prompt, subjects } }, 422, code);
    expect(res.body.error.details).toBeDefined();
  });

  it("truncates a long negative prompt instead of refusing it", async () => {
    const fresh = await h.newKey();
    const dog = await h.upload(fresh.key);
    const body = { prompt: "a dog img", subjects: [{ uploadId: dog }], negativePrompt: "blurry ugly ".repeat(60) };
    expect((await h.call("POST", "/v1/generations", { key: fresh.key, body })).status).toBe(202);
    expect(await h.drainQueue()).toHaveLength(1);
  });

  it("unknown_upload for a missing or not yet uploaded upload", async () => {
    const fresh = await h.newKey();
    await rejectsSubmission({ key: fresh.key, body: { prompt: "a dog img", subjects: [{ uploadId: "upl_00000000000000000000000000" }] } }, 422, "unknown_upload", fresh.keyId);
    const slot = await h.call("POST", "/v1/uploads", { key: fresh.key, body: { contentType: "image/png", contentLength: 100 } });
    const res = await rejectsSubmission({ key: fresh.key, body: { prompt: "a dog img", subjects: [{ uploadId: slot.body.id }] } }, 422, "unknown_upload", fresh.keyId);
    expect(res.body.error.message).toContain("not uploaded yet");
  });

  it("upload_invalid for the wrong bytes or the wrong size", async () => {
    const fresh = await h.newKey();
    const notPng = await h.upload(fresh.key, Buffer.from("<html>not an image</html>"), "image/png");
    await rejectsSubmission({ key: fresh.key, body: { prompt: "a dog img", subjects: [{ uploadId: notPng }] } }, 422, "upload_invalid", fresh.keyId);
    // s3rver does not check the signed Content-Length, so a short PUT gets through to the submit check.
    const slot = await h.call("POST", "/v1/uploads", { key: fresh.key, body: { contentType: "image/png", contentLength: PNG_BYTES.length + 10 } });
    await fetch(slot.body.uploadUrl, { method: "PUT", headers: slot.body.headers, body: PNG_BYTES });
    const res = await rejectsSubmission({ key: fresh.key, body: { prompt: "a dog img", subjects: [{ uploadId: slot.body.id }] } }, 422, "upload_invalid", fresh.keyId);
    expect(res.body.error.details).toMatchObject({ size: PNG_BYTES.length, declared: PNG_BYTES.length + 10 });
    const emptySlot = await h.call("POST", "/v1/uploads", { key: fresh.key, body: { contentType: "image/png", contentLength: 100 } });
    await fetch(emptySlot.body.uploadUrl, { method: "PUT", headers: emptySlot.body.headers, body: new Uint8Array() });
    const empty = await rejectsSubmission({ key: fresh.key, body: { prompt: "a dog img", subjects: [{ uploadId: emptySlot.body.id }] } }, 422, "upload_invalid", fresh.keyId);
    expect(empty.body.error.details).toMatchObject({ size: 0, declared: 100 });
  });
});
