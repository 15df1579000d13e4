import { copyFileSync, cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import onnxProto from "onnx-proto";
import { ManifestSchema } from "@troupe/shared/contracts/manifest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SD15_CONFIG } from "../graph/configs/sd15.ts";
import { TINY_CONFIG } from "../graph/configs/tiny.ts";
import { seededRandom } from "../graph/weights.ts";
import { checkSessionIo, createSession } from "../onnx/sessions.ts";
import { GPU_GRAPH_FILES, GRAPH_FILES, graphFilesFor, graphSpecs, type GraphKey } from "./graph-spec.ts";
import { checkGpuGraph, loadBundle, readManifest, releaseBundle } from "./load-bundle.ts";
import { writeBundle } from "./write-bundle.ts";

/** External-data locations a graph file names. */
function locations(path: string): Set<string> {
  const model = onnxProto.onnx.ModelProto.decode(readFileSync(path));
  return new Set(model.graph!.initializer!.flatMap((t) => (t.externalData ?? []).filter((e) => e.key === "location").map((e) => e.value!)));
}

describe("an fp16 bundle", () => {
  const work = mkdtempSync(join(tmpdir(), "fp16-bundle-"));
  afterAll(() => rmSync(work, { recursive: true, force: true }));
  const dir = join(work, "bundle");
  beforeAll(async () => {
    const merges = join(work, "bpe_test_vocab.txt");
    writeFileSync(merges, "#version: 0.2\nt h\nth e</w>\n");
    // CLIP's vocabulary: the 49408×32 token embedding (3 MB in fp16) goes to text_encoder.onnx.data
    await writeBundle({ ...TINY_CONFIG, tokenizer: SD15_CONFIG.tokenizer }, dir, seededRandom(1), { merges, precision: "fp16", version: "test" });
  });

  it("lists float16-compute graphs for the GPU providers beside the float32 ones, over the same weight file", async () => {
    const manifest = await readManifest(dir);
    expect(ManifestSchema.parse(manifest)).toEqual(manifest);
    expect(manifest).toMatchObject({ precision: "fp16", graphs: GRAPH_FILES, gpuGraphs: GPU_GRAPH_FILES });
    const listed = manifest.files.map((f) => f.path);
    for (const key of Object.keys(GRAPH_FILES) as GraphKey[]) expect(listed).toEqual(expect.arrayContaining([GRAPH_FILES[key], GPU_GRAPH_FILES[key]]));
    // one data file per graph, which both of its files read (the tensors over 64 KiB: the token embedding, the patch convs);
    // the safety checker has only its float32-compute graph
    expect(listed.filter((f) => f.endsWith(".data")).sort()).toEqual(["image_encoder.onnx.data", "safety_checker.onnx.data", "text_encoder.onnx.data"]);
    expect(manifest.graphs.safetyChecker).toBe("safety_checker.onnx");
    expect(manifest.gpuGraphs).not.toHaveProperty("safetyChecker");
    for (const key of ["textEncoder", "imageEncoder"] as const) {
      const data = new Set([`${GRAPH_FILES[key]}.data`]);
      expect(locations(join(dir, GPU_GRAPH_FILES[key]))).toEqual(data);
      expect(locations(join(dir, GRAPH_FILES[key]))).toEqual(data);
    }
  });

  it("runs `gpuGraphs` on cuda and webgpu, `graphs` on the CPU; an fp32 bundle runs `graphs` everywhere", async () => {
    const manifest = await readManifest(dir);
    const graphs = { ...GRAPH_FILES, safetyChecker: "safety_checker.onnx" }; // the checker: float32, in `graphs` only
    expect(graphFilesFor(manifest, "cpu")).toEqual(graphs);
    expect(graphFilesFor(manifest, "cuda")).toEqual(GPU_GRAPH_FILES);
    expect(graphFilesFor(manifest, "webgpu")).toEqual(GPU_GRAPH_FILES);
    expect(graphFilesFor({ ...manifest, gpuGraphs: undefined }, "cuda")).toEqual(graphs);
    const bundle = await loadBundle(dir, { executionProvider: "cpu", intraOpThreads: 1 });
    await releaseBundle(bundle);
  });

  it("has float16 graphs that pass the structural check and load on the CPU provider with float32 I/O", async () => {
    const manifest = await readManifest(dir);
    const specs = graphSpecs(manifest);
    for (const key of Object.keys(GPU_GRAPH_FILES) as GraphKey[]) {
      const file = GPU_GRAPH_FILES[key];
      await checkGpuGraph(dir, file);
      // ORT's CPU provider wraps the ops it has no fp16 kernel for in Casts, so the whole graph loads
      const session = await createSession(join(dir, file), file, { executionProvider: "cpu", intraOpThreads: 1 });
      checkSessionIo(session, specs[key], file);
      await session.release();
    }
  });

  it("refuses, by name, a float32-compute graph where a float16 one is listed", async () => {
    const swapped = join(work, "swapped");
    cpSync(dir, swapped, { recursive: true });
    copyFileSync(join(swapped, "fuse.onnx"), join(swapped, "fuse.fp16.onnx"));
    await expect(checkGpuGraph(swapped, "fuse.fp16.onnx")).rejects.toThrow(/^fuse\.fp16\.onnx: not a float16-compute graph: .*casts weight .* outside the float32 islands; .* reads .* in float32/);
  });
});
