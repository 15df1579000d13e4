import { describe, expect, it } from "vitest";
import { execFile } from "node:child_process";
import { createRequire } from "node:module";
import { promisify } from "node:util";
import { fileURLToPath } from "node:url";

const run = promisify(execFile);
const CLIP_MERGES = fileURLToPath(new URL("../../../../shared/data/clip/bpe_simple_vocab_16e6.txt.gz", import.meta.url));
const SCRIPT = fileURLToPath(new URL("./tokenize.ts", import.meta.url));
// tsx's own CLI, run by this node: what `npm run tokenize` runs, without npm in between.
const TSX = createRequire(import.meta.url).resolve("tsx/cli");
const tokenize = (...args: string[]) => run(process.execPath, [TSX, SCRIPT, ...args]);

describe("tokenize CLI", () => {
  it("prints the CLIP ids as a JSON array on one line", async () => {
    const { stdout } = await tokenize("--merges", CLIP_MERGES, "a photo of a cat");
    expect(stdout).toBe("[320,1125,539,320,2368]\n");
  });

  it("takes a smaller vocabulary", async () => {
    // 515 keeps one merge ("i n"); "hi" is then the byte symbols h, i</w>.
    const { stdout } = await tokenize("--vocab-size", "515", "--merges", CLIP_MERGES, "hi");
    expect(JSON.parse(stdout)).toEqual([71, 256 + 72]);
  });

  it("exits 2 with the usage on bad arguments", async () => {
    const bad = [["a photo"], ["--merges", CLIP_MERGES, "--vocab-size", "big", "a"], ["--merges", CLIP_MERGES, "--bogus", "a"]];
    const results = await Promise.allSettled(bad.map((args) => tokenize(...args)));
    for (const r of results) {
      expect(r.status).toBe("rejected");
      expect((r as PromiseRejectedResult).reason).toMatchObject({ code: 2, stderr: expect.stringContaining("usage: npm run -s tokenize") });
    }
  });
});
