import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startHarness, type Harness } from "./support/harness.ts";

/**
 * DynamoDB stores numbers of magnitude 1e-130 .. 9.99e125 (and 0); anything smaller is "Number underflow".
 * The create body normalises such magnitudes to 0 in the schema (README, "Request body"), so no body a
 * client may send reaches DynamoDB with one, and no body is a 5xx.
 */
let h: Harness;
let key: string;
let uploads: string[];
beforeAll(async () => {
  h = await startHarness();
  ({ key } = await h.newKey({ monthlyImages: 1_000_000, ratePerMinute: 1_000_000 }));
  uploads = [await h.upload(key), await h.upload(key)];
});
afterAll(async () => h?.stop());

const UNSTORABLE = [5e-324, 1e-320, 2.2250738585072014e-308, 1e-200, 9.9e-131];

/**
 * A field's number: mostly a valid one (so that whole bodies get past every other check), often one
 * that differs from an edge of the range by a magnitude DynamoDB cannot hold (at 0 that is the
 * unstorable number itself), rarely one just outside the range.
 */
const near = (min: number, max: number, valid: fc.Arbitrary<number> = fc.double({ min, max, noNaN: true })) =>
  fc.oneof(
    { weight: 12, arbitrary: valid },
    { weight: 6, arbitrary: fc.constantFrom(...UNSTORABLE.flatMap((v) => [min + v, max - v, min - v, max + v])) },
    // 1e126 is above DynamoDB's largest number, 2 ** 53 above the safe integers: both must be a 400.
    { weight: 1, arbitrary: fc.constantFrom(min - 1, max + 1, 1e126, -1e126, 2 ** 53) },
  );
const integer = (min: number, max: number) => near(min, max, fc.integer({ min, max }));
const size = near(64, 256, fc.constantFrom(64, 128, 192, 256));

/** A box whose corners are in range most of the time; any of them may be off by an unstorable magnitude. */
const box = fc.tuple(near(0, 0.45), near(0, 0.45), near(0.55, 1), near(0.55, 1));
const subject = (uploadId: string) => fc.record({ uploadId: fc.constant(uploadId), box }, { requiredKeys: ["uploadId"] });

/** A whole create body: every field optional except the prompt and its matching subjects (drawn after beforeAll). */
const createBody = fc
  .constantFrom("a dog img on a beach", "a man img and a woman img sitting in a park")
  .chain((prompt) => {
    const count = prompt.split(" img").length - 1;
    return fc.record(
      {
        prompt: fc.constant(prompt),
        subjects: fc.tuple(...uploads.slice(0, count).map(subject)),
        negativePrompt: fc.constantFrom("", "blurry", "low quality, watermark"),
        numImages: integer(1, 2),
        steps: integer(1, 150),
        guidanceScale: near(1, 20),
        alpha: near(0, 1),
        scheduler: fc.constantFrom("pndm", "ddim", "euler", "dpmpp-2m"),
        seed: integer(0, 2 ** 32 - 1),
        width: size,
        height: size,
        webhookUrl: fc.constantFrom("https://hooks.example.com/troupe", "https://rebind.example.com/private", "http://127.0.0.1:9/local"),
        retainInputs: fc.boolean(),
      },
      { requiredKeys: ["prompt", "subjects"] },
    );
  });

describe("numbers DynamoDB cannot store", () => {
  it("are normalised to 0: a box edge and alpha of 5e-324 are accepted and stored as 0", async () => {
    const body = { prompt: "a dog img on a beach", subjects: [{ uploadId: uploads[0], box: [5e-324, 1e-320, 0.5, 1] }], alpha: -1e-320 };
    const res = await h.call("POST", "/v1/generations", { key, body });
    expect(res.status).toBe(202);
    expect(res.body.input.subjects[0].box).toEqual([0, 0, 0.5, 1]);
    expect(res.body.input.alpha).toBe(0);
    // Read back through DynamoDB: the record holds the normalised values.
    const again = await h.call("GET", `/v1/generations/${res.body.id}`, { key });
    expect(again.body.input).toMatchObject({ alpha: 0, subjects: [{ box: [0, 0, 0.5, 1] }] });
  });

  it("cannot make an edge collapse unnoticed: a box whose x1 underflows to x0 is a 400", async () => {
    const body = { prompt: "a dog img on a beach", subjects: [{ uploadId: uploads[0], box: [0, 0, 1e-320, 1] }] };
    const res = await h.call("POST", "/v1/generations", { key, body });
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: "invalid_request", message: expect.stringContaining("x0 < x1") });
  });

  it("no valid-looking create body is answered with a 5xx", async () => {
    const statuses: number[] = [];
    await fc.assert(
      fc.asyncProperty(createBody, async (body) => {
        const res = await h.call("POST", "/v1/generations", { key, body });
        statuses.push(res.status);
        expect(res.status, JSON.stringify({ body, response: res.body })).toBeLessThan(500);
        if (res.status >= 400) expect(res.body.error.code).toMatch(/^[a-z_]+$/);
      }),
      { numRuns: 100 },
    );
    // The generator is worth something only if many bodies get all the way to DynamoDB (about a third do; 23–36 of 100 seen).
    expect(statuses.filter((s) => s === 202).length).toBeGreaterThan(statuses.length / 10);
    await h.drainQueue();
  });
});
