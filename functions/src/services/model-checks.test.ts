import { describe, expect, it } from "vitest";
import { AppError } from "@troupe/shared/errors";
import { fixtureManifest } from "../../../test/api/support/fixture-bundle.ts";
import { checkMemory, resolveSize } from "./model-checks.ts";

const thrown = (f: () => unknown): AppError => {
  try {
    f();
  } catch (e) {
    if (e instanceof AppError) return e;
    throw e;
  }
  throw new Error("did not throw");
};

describe("resolveSize", () => {
  const manifest = fixtureManifest(); // 64..256, memory 2 · 256² per call and per job

  it("fills the default size and accepts jobs within the memory budget", () => {
    expect(resolveSize({ numImages: 4 }, manifest)).toEqual({ width: 128, height: 128 });
    expect(resolveSize({ width: 256, height: 256, numImages: 2 }, manifest)).toEqual({ width: 256, height: 256 });
  });

  it("refuses a job above maxJobPixels with 400 invalid_request naming the limit and numImages", () => {
    const e = thrown(() => resolveSize({ width: 256, height: 256, numImages: 3 }, manifest));
    expect(e.code).toBe("invalid_request");
    expect(e.message).toMatch(/maxJobPixels/);
    expect(e.details).toEqual([{ code: "custom", path: ["numImages"], message: e.message, params: { limit: "maxJobPixels" } }]);
  });

  it("refuses an image whose guided pair exceeds maxBatchPixels, naming width and height", () => {
    const small = fixtureManifest({ memory: { maxBatchPixels: 2 * 192 * 192, maxJobPixels: 1e9 } });
    expect(() => checkMemory({ width: 192, height: 192, numImages: 4 }, small)).not.toThrow();
    const e = thrown(() => resolveSize({ width: 256, height: 192, numImages: 1 }, small));
    expect(e.code).toBe("invalid_request");
    expect(e.message).toMatch(/maxBatchPixels/);
    expect((e.details as { path: string[] }[]).map((i) => i.path)).toEqual([["width"], ["height"]]);
    // guidance 1 runs no negative half: the same image alone fits
    expect(resolveSize({ width: 256, height: 192, numImages: 1, guidanceScale: 1 }, small)).toEqual({ width: 256, height: 192 });
  });

  it("checks sizes first: a bad size is reported as such, not as memory", () => {
    const e = thrown(() => resolveSize({ width: 320, numImages: 4 }, manifest));
    expect(e.details).toEqual([expect.objectContaining({ path: ["width"] })]);
  });

  it("states no budget, no limit", () => {
    expect(resolveSize({ width: 256, height: 256, numImages: 4 }, fixtureManifest({ memory: undefined }))).toEqual({ width: 256, height: 256 });
  });
});
