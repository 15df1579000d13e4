import { describe, expect, it } from "vitest";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { fileURLToPath } from "node:url";
import { CLIP_MERGES } from "../tokenizer/clip-tokenizer.test.ts";

const run = promisify(execFile);
const SCRIPT = fileURLToPath(new URL("./tokenize.ts", import.meta.url));
const tokenize = (...args: string[]) => run(process.execPath, ["--import", "tsx", SCRIPT, ...args]);

describe("tokenize CLI", () => {
  it("prints the CLIP ids as a JSON array", async () => {
    const { stdout } = await tokenize("--merges", CLIP_MERGES, "a photo of a cat");
    expect(JSON.parse(stdout)).toEqual([320, 1125, 539, 320, 2368]);
  });

  it("exits 2 with the usage on bad arguments", async () => {
    await expect(tokenize("a photo")).rejects.toMatchObject({ code: 2, stderr: expect.stringContaining("usage:") });
  });
});
