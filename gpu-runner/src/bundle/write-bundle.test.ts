import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ManifestSchema } from "@troupe/shared/contracts/manifest";
import { afterAll, describe, expect, it } from "vitest";
import { TINY_CONFIG } from "../graph/configs/tiny.ts";
import { SD15_CONFIG } from "../graph/configs/sd15.ts";
import { seededRandom } from "../graph/weights.ts";
import { loadBundle, releaseBundle } from "./load-bundle.ts";
import { writeBundle } from "./write-bundle.ts";

describe("writeBundle with an operator's merges file", () => {
  const dir = mkdtempSync(join(tmpdir(), "write-bundle-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const merges = join(dir, "bpe_test_vocab.txt");
  writeFileSync(merges, "#version: 0.2\nt h\nth e</w>\n");
  // tiny graphs with CLIP's vocabulary: the 49408×32 token embedding (6 MB) goes to external data
  const config = { ...TINY_CONFIG, tokenizer: SD15_CONFIG.tokenizer };

  it("copies the merges, streams large tensors to .data files, and checksums every file", async () => {
    const out = join(dir, "bundle");
    const manifest = await writeBundle(config, out, seededRandom(1), { merges, version: "test" });
    expect(ManifestSchema.parse(manifest)).toEqual(manifest);
    expect(manifest.tokens).toEqual({ bos: 49406, eos: 49407, pad: 49407, maxLength: 77, vocabSize: 49408 });
    expect(manifest.tokenizer.merges).toBe("bpe_test_vocab.txt");
    // the config's sizes and memory budget, as the API checks requests against them
    expect(manifest.sizes).toEqual(TINY_CONFIG.sizes);
    expect(manifest.memory).toEqual({ maxBatchPixels: 2 * 256 * 256, maxJobPixels: 2 * 256 * 256 });
    const listed = manifest.files.map((f) => f.path).sort();
    expect(listed).toContain("text_encoder.onnx.data");
    expect(listed).toEqual(readdirSync(out).filter((f) => f !== "manifest.json").sort());

    const bundle = await loadBundle(out, { executionProvider: "cpu", intraOpThreads: 1 });
    expect(bundle.mergesPath).toBe(join(out, "bpe_test_vocab.txt"));
    await releaseBundle(bundle);
  });

  it("refuses a config without its merges file", async () => {
    await expect(writeBundle(config, join(dir, "none"), seededRandom(1))).rejects.toThrow(/needs the operator's CLIP merges file/);
  });
});
