import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ListObjectsV2Command } from "@aws-sdk/client-s3";
import { startHarness, type Harness } from "./support/harness.ts";

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => h?.stop());

const job = (subjects: Record<string, unknown>[], extra: Record<string, unknown> = {}) => ({ prompt: "a photo of a dog img on the beach", subjects, steps: 4, ...extra });

const keysUnder = async (prefix: string) =>
  ((await h.t.clients.s3.send(new ListObjectsV2Command({ Bucket: h.deps.config.TROUPE_BUCKET, Prefix: prefix }))).Contents ?? []).map((o) => o.Key!);

describe("POST/GET/DELETE /v1/subjects", () => {
  it("makes a subject from an upload with its own copy of the photo, lists it, and deletes it with its objects", async () => {
    const { key, keyId } = await h.newKey();
    const uploadId = await h.upload(key);
    const created = await h.call("POST", "/v1/subjects", { key, body: { uploadId } });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ id: expect.stringMatching(/^sub_[0-9a-z]+$/), contentType: "image/png", source: { uploadId } });
    expect(created.headers.get("location")).toBe(`/v1/subjects/${created.body.id}`);
    const id = created.body.id as string;
    expect(await keysUnder(`subjects/${keyId}/${id}/`)).toEqual([`subjects/${keyId}/${id}/image`]);

    expect(await h.call("GET", `/v1/subjects/${id}`, { key })).toMatchObject({ status: 200, body: created.body });
    const second = (await h.call("POST", "/v1/subjects", { key, body: { uploadId } })).body.id;
    const page1 = await h.call("GET", "/v1/subjects?limit=1", { key });
    expect(page1.body.data.map((s: { id: string }) => s.id)).toEqual([second]);
    const page2 = await h.call("GET", `/v1/subjects?limit=1&cursor=${page1.body.nextCursor}`, { key });
    expect(page2.body.data.map((s: { id: string }) => s.id)).toEqual([id]);

    // The upload can go: the subject keeps its copy and still works in a job.
    expect((await h.call("DELETE", `/v1/uploads/${uploadId}`, { key })).status).toBe(204);
    expect((await h.call("POST", "/v1/generations", { key, body: job([{ subjectId: id }]) })).status).toBe(202);

    expect((await h.call("DELETE", `/v1/subjects/${id}`, { key })).status).toBe(204);
    expect(await keysUnder(`subjects/${keyId}/${id}/`)).toEqual([]);
    expect((await h.call("GET", `/v1/subjects/${id}`, { key })).status).toBe(404);
    expect((await h.call("DELETE", `/v1/subjects/${id}`, { key })).status).toBe(404);
    const refused = await h.call("POST", "/v1/generations", { key, body: job([{ subjectId: id }]) });
    expect(refused.status).toBe(422);
    expect(refused.body.error).toMatchObject({ code: "unknown_subject", details: { subject: 0, path: ["subjects", 0, "subjectId"] } });
    await h.drainQueue();
  });

  it("carries the subject id to the runner and mixes subjects with uploads in prompt order", async () => {
    const { key } = await h.newKey();
    const subjectId = (await h.call("POST", "/v1/subjects", { key, body: { uploadId: await h.upload(key) } })).body.id;
    const uploadId = await h.upload(key);
    await h.drainQueue();
    const created = await h.call("POST", "/v1/generations", { key, body: job([{ uploadId }, { subjectId, box: [0.5, 0, 1, 1] }], { prompt: "a man img and a woman img" }) });
    expect(created.status).toBe(202);
    expect(created.body.input.subjects).toEqual([{ uploadId }, { subjectId, box: [0.5, 0, 1, 1] }]);
    const [message] = await h.drainQueue();
    expect(message.spec.subjects).toEqual([{ uploadId }, { subjectId, box: [0.5, 0, 1, 1] }]);
  });

  it("hides another key's subjects (404, never 403) and refuses them in jobs", async () => {
    const a = await h.newKey();
    const b = await h.newKey();
    const subjectId = (await h.call("POST", "/v1/subjects", { key: a.key, body: { uploadId: await h.upload(a.key) } })).body.id;
    expect((await h.call("GET", `/v1/subjects/${subjectId}`, { key: b.key })).status).toBe(404);
    expect((await h.call("DELETE", `/v1/subjects/${subjectId}`, { key: b.key })).status).toBe(404);
    expect((await h.call("GET", "/v1/subjects", { key: b.key })).body.data).toEqual([]);
    const refused = await h.call("POST", "/v1/generations", { key: b.key, body: job([{ subjectId }]) });
    expect(refused.body.error.code).toBe("unknown_subject");
    // B cannot make a subject from A's upload either.
    const stolen = await h.call("POST", "/v1/subjects", { key: b.key, body: { uploadId: await h.upload(a.key) } });
    expect(stolen.status).toBe(422);
    expect(stolen.body.error).toMatchObject({ code: "unknown_upload", details: { path: ["uploadId"] } });
    expect((await h.call("GET", `/v1/subjects/${subjectId}`, { key: a.key })).status).toBe(200);
  });

  it("refuses a subject with both or neither of uploadId and subjectId, and an upload not yet PUT", async () => {
    const { key } = await h.newKey();
    const uploadId = await h.upload(key);
    const both = await h.call("POST", "/v1/generations", { key, body: job([{ uploadId, subjectId: "sub_0000000000abc" }]) });
    expect(both.status).toBe(400);
    expect(both.body.error.message).toMatch(/exactly one of uploadId or subjectId/);
    expect((await h.call("POST", "/v1/generations", { key, body: job([{}]) })).status).toBe(400);
    const slot = await h.call("POST", "/v1/uploads", { key, body: { contentType: "image/png", contentLength: 100 } });
    const early = await h.call("POST", "/v1/subjects", { key, body: { uploadId: slot.body.id } });
    expect(early.status).toBe(422);
    expect(early.body.error.code).toBe("unknown_upload");
    expect(early.body.error.message).toMatch(/^upload upl_\w+ was not uploaded yet/);
  });

  it("documents the routes with operation ids, named schemas and the standard errors", async () => {
    const { body: doc } = await h.call("GET", "/openapi.json");
    const op = (method: string, path: string) => doc.paths[path][method];
    expect(["createSubject", "listSubjects", "getSubject", "deleteSubject", "deleteUpload", "deleteGeneration"]).toEqual([
      op("post", "/v1/subjects").operationId,
      op("get", "/v1/subjects").operationId,
      op("get", "/v1/subjects/{id}").operationId,
      op("delete", "/v1/subjects/{id}").operationId,
      op("delete", "/v1/uploads/{id}").operationId,
      op("delete", "/v1/generations/{id}").operationId,
    ]);
    expect(doc.components.schemas).toHaveProperty("Subject");
    expect(doc.components.schemas).toHaveProperty("SubjectList");
    expect(doc.components.schemas).toHaveProperty("CreateSubject");
    expect(op("post", "/v1/subjects").responses["201"].content["application/json"].schema).toEqual({ $ref: "#/components/schemas/Subject" });
    expect(Object.keys(op("delete", "/v1/subjects/{id}").responses).sort()).toEqual(["204", "401", "404", "429", "500"]);
  });
});
