import type { Manifest } from "@troupe/shared/contracts/manifest";
import type { ExecutionProvider } from "../onnx/sessions.ts";

/** The five graphs every bundle has; the optional safety checker is `SAFETY_CHECKER_FILE` / `safetyCheckerSpec`. */
export type GraphKey = Exclude<keyof Manifest["graphs"], "safetyChecker">;

/** One input or output of a bundle graph: a fixed size where DESIGN §4 fixes one, null where it is free. */
export interface ValueSpec {
  name: string;
  type: "float32" | "int64";
  dims: (number | null)[];
}

export interface GraphSpec {
  inputs: ValueSpec[];
  outputs: ValueSpec[];
}

const f32 = (name: string, dims: (number | null)[]): ValueSpec => ({ name, type: "float32", dims });
const _ = null;

/** DESIGN §4's table, with this manifest's D, token count, latent channels and image size. */
export function graphSpecs(m: Manifest): Record<GraphKey, GraphSpec> {
  const D = m.hiddenSize;
  const L = m.tokens.maxLength;
  const C = m.latentChannels;
  const size = m.imageSize;
  return {
    textEncoder: { inputs: [{ name: "input_ids", type: "int64", dims: [_, L] }], outputs: [f32("last_hidden_state", [_, L, D])] },
    imageEncoder: { inputs: [f32("pixel_values", [_, 3, size, size])], outputs: [f32("image_embeds", [_, D])] },
    fuse: { inputs: [f32("text_embeds", [_, D]), f32("image_embeds", [_, D])], outputs: [f32("fused", [_, D])] },
    unet: {
      inputs: [f32("sample", [_, C, _, _]), f32("timestep", [_]), f32("encoder_hidden_states", [_, L, D]), f32("cross_attention_bias", [_, L, _, _])],
      outputs: [f32("noise_pred", [_, C, _, _]), f32("attention_probs", [_, L, _, _])],
    },
    vaeDecoder: { inputs: [f32("latent", [_, C, _, _])], outputs: [f32("image", [_, 3, _, _])] },
  };
}

/**
 * The optional safety checker: its image size is the graph's own (fixed dims, read from the session), so the
 * spec leaves it free; `safetyImageSize` then insists it is fixed and square.
 */
export const safetyCheckerSpec = (): GraphSpec => ({
  inputs: [f32("pixel_values", [_, 3, _, _])],
  outputs: [f32("image_embeds", [_, _]), f32("concept_scores", [_, 17]), f32("special_scores", [_, 3]), f32("has_nsfw", [_])],
});
export const SAFETY_CHECKER_FILE = "safety_checker.onnx";

/** The file names `writeBundle` gives the graphs. */
export const GRAPH_FILES: Record<GraphKey, string> = {
  textEncoder: "text_encoder.onnx",
  imageEncoder: "image_encoder.onnx",
  fuse: "fuse.onnx",
  unet: "unet.onnx",
  vaeDecoder: "vae_decoder.onnx",
};

/** The file names of an fp16 bundle's float16-compute graphs (`manifest.gpuGraphs`), beside `GRAPH_FILES`. */
export const GPU_GRAPH_FILES: Record<GraphKey, string> = {
  textEncoder: "text_encoder.fp16.onnx",
  imageEncoder: "image_encoder.fp16.onnx",
  fuse: "fuse.fp16.onnx",
  unet: "unet.fp16.onnx",
  vaeDecoder: "vae_decoder.fp16.onnx",
};

/**
 * The graphs an execution provider runs, and so the precision it computes in: the GPU providers (cuda,
 * webgpu) run an fp16 bundle's `gpuGraphs` (float16 compute; float32 timestep embedding, GroupNorm
 * statistics and inputs / outputs); the CPU provider, which has few float16 kernels, runs `graphs`
 * (float32 compute, the fp16 weights cast at load). fp32 bundles have only `graphs`: float32 everywhere.
 */
export function graphFilesFor(manifest: Pick<Manifest, "graphs" | "gpuGraphs">, executionProvider: ExecutionProvider): Manifest["graphs"] {
  return executionProvider !== "cpu" && manifest.gpuGraphs ? manifest.gpuGraphs : manifest.graphs;
}
