import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startHarness, type Harness } from "./support/harness.ts";

// A submission's upload records are read in one BatchGetItem (resolve-subjects.ts): each subject is
// still judged on its own record, in prompt order, and a refusal writes nothing.
let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => h?.stop());

describe("subjects' upload records read together", () => {
  it("accepts two uploads, and the same upload twice", async () => {
    const { key } = await h.newKey();
    const [a, b] = [await h.upload(key), await h.upload(key)];
    for (const subjects of [[{ uploadId: a }, { uploadId: b }], [{ uploadId: a }, { uploadId: a }]]) {
      const res = await h.call("POST", "/v1/generations", { key, body: { prompt: "a man img and a woman img", subjects } });
      expect(res.status).toBe(202);
      expect(res.body.input.subjects).toEqual(subjects.map((s) => expect.objectContaining(s)));
    }
    expect(await h.drainQueue()).toHaveLength(2);
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
    }
    expect(await h.countJobs(mine.keyId)).toBe(0);
    expect(await h.drainQueue()).toEqual([]);
  });
});
