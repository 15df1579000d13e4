import { describe, expect, it } from "vitest";
import { memoryProblem, sizeProblem } from "./manifest.ts";

const sizes = { default: { width: 512, height: 512 }, min: 256, max: 1024, multiple: 64 };
// SD 1.5's budget: one 1024² image with its CFG half per UNet call, four 1024² images per job
const memory = { maxBatchPixels: 2 * 1024 * 1024, maxJobPixels: 4 * 1024 * 1024 };

describe("sizeProblem", () => {
  it("takes every multiple of 64 from 256 to 1024 on each side, non-square included", () => {
    for (const v of [256, 512, 768, 1024]) expect(sizeProblem({ sizes }, "width", v)).toBeUndefined();
    expect(sizeProblem({ sizes }, "height", 1088)).toBe("height must be a multiple of 64 from 256 to 1024; got 1088.");
    expect(sizeProblem({ sizes }, "width", 192)).toMatch(/got 192/);
    expect(sizeProblem({ sizes }, "width", 600)).toMatch(/got 600/);
  });
});

describe("memoryProblem", () => {
  it("has nothing to say without a budget", () => {
    expect(memoryProblem({}, { width: 1024, height: 1024, numImages: 4 })).toBeUndefined();
  });

  it("lets a job through while one image's guided pair fits maxBatchPixels and the job fits maxJobPixels", () => {
    expect(memoryProblem({ memory }, { width: 1024, height: 1024, numImages: 4 })).toBeUndefined();
    expect(memoryProblem({ memory }, { width: 1024, height: 256, numImages: 1 })).toBeUndefined();
  });

  it("refuses one image whose 2 × width × height exceeds maxBatchPixels, naming the limit and the size fields", () => {
    const small = { maxBatchPixels: 2 * 512 * 512, maxJobPixels: 1e9 };
    expect(memoryProblem({ memory: small }, { width: 512, height: 512, numImages: 4 })).toBeUndefined();
    expect(memoryProblem({ memory: small }, { width: 576, height: 512, numImages: 1 })).toEqual({
      limit: "maxBatchPixels",
      fields: ["width", "height"],
      message: "A 576×512 image needs 589824 pixels per UNet call (2 × width × height, its guided pair); this model's memory budget allows 524288 (maxBatchPixels).",
    });
    // at guidance 1 an image's call is the image alone, as the runner batches it
    expect(memoryProblem({ memory: small }, { width: 576, height: 512, numImages: 1, guidanceScale: 1 })).toBeUndefined();
    expect(memoryProblem({ memory: small }, { width: 1024, height: 512, numImages: 1, guidanceScale: 1 })).toBeUndefined();
    expect(memoryProblem({ memory: small }, { width: 1024, height: 576, numImages: 1, guidanceScale: 1 })?.limit).toBe("maxBatchPixels");
  });

  it("refuses numImages × width × height above maxJobPixels, exactly at the boundary", () => {
    const tiny = { maxBatchPixels: 2 * 256 * 256, maxJobPixels: 2 * 256 * 256 };
    expect(memoryProblem({ memory: tiny }, { width: 256, height: 256, numImages: 2 })).toBeUndefined();
    const problem = memoryProblem({ memory: tiny }, { width: 256, height: 256, numImages: 3 });
    expect(problem).toMatchObject({ limit: "maxJobPixels", fields: ["numImages"] });
    expect(problem!.message).toMatch(/3 × 256 × 256 = 196608 pixels.*allows 131072 per job \(maxJobPixels\)/);
  });
});
