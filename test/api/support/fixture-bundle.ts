import { mkdtempSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { SD15_SCHEDULER_CONFIG, type Manifest } from "@troupe/shared/contracts/manifest";

/** The real CLIP merges (DESIGN §4: test data outside the project, never copied into it). */
export const CLIP_MERGES = fileURLToPath(new URL("../../../../shared/data/clip/bpe_simple_vocab_16e6.txt.gz", import.meta.url));

const MERGES_NAME = "bpe_simple_vocab_16e6.txt.gz";
const fakeFile = (path: string) => ({ path, sha256: "0".repeat(64), bytes: 0 });

/**
 * A manifest for a 128×128 default, 64..256 in steps of 64 model with 2 subjects and D = 32, and the tiny
 * bundle's memory budget: 2 · 256² pixels per UNet call and per job (three 256² images are refused).
 */
export function fixtureManifest(overrides: Partial<Manifest> = {}): Manifest {
  return {
    name: "fixture",
    version: "0.0.0",
    hiddenSize: 32,
    sizes: { default: { width: 128, height: 128 }, min: 64, max: 256, multiple: 64 },
    latentChannels: 4,
    vaeScaleFactor: 8,
    imageSize: 224,
    tokens: { bos: 49406, eos: 49407, pad: 49407, maxLength: 77, vocabSize: 49408 },
    maxSubjects: 2,
    memory: { maxBatchPixels: 2 * 256 * 256, maxJobPixels: 2 * 256 * 256 },
    scheduler: SD15_SCHEDULER_CONFIG,
    precision: "fp32",
    tokenizer: { merges: MERGES_NAME },
    // The API reads only the manifest and the merges file; the graphs need not exist.
    graphs: { textEncoder: "text_encoder.onnx", imageEncoder: "image_encoder.onnx", fuse: "fuse.onnx", unet: "unet.onnx", vaeDecoder: "vae_decoder.onnx" },
    files: [fakeFile("text_encoder.onnx"), fakeFile("unet.onnx")],
    ...overrides,
  };
}

/** A bundle folder in a temp dir: manifest.json plus a symlink to the real merges file. */
export function writeFixtureBundle(manifest: Manifest = fixtureManifest()): string {
  const dir = mkdtempSync(join(tmpdir(), "troupe-bundle-"));
  writeFileSync(join(dir, "manifest.json"), JSON.stringify(manifest, null, 2));
  symlinkSync(CLIP_MERGES, join(dir, manifest.tokenizer.merges));
  return dir;
}
