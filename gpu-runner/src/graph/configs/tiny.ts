import type { ModelConfig } from "./model-config.ts";

/**
 * About 0.7 M random parameters with SD 1.5's structure: three UNet resolutions (16/32/32 channels) so
 * h/4 exists, 77 tokens, 224² reference images. Tests and the local stack run it on a CPU core.
 */
export const TINY_CONFIG: ModelConfig = {
  name: "tiny",
  hiddenSize: 32,
  sizes: { default: { width: 128, height: 128 }, min: 64, max: 256, multiple: 64 },
  // Small enough that tests reach every path: maxBatchPixels = 2 · 256² so every allowed size runs (the
  // largest image's guided pair exactly fits), up to four 128² images share one UNet call, two 256² images
  // run one at a time; maxJobPixels = 2 · 256² refuses e.g. three 256² or four 192² images.
  memory: { maxBatchPixels: 2 * 256 * 256, maxJobPixels: 2 * 256 * 256 },
  tokenizer: { kind: "trained", numMerges: 300 },
  text: { dim: 32, layers: 2, heads: 2, intermediate: 64, maxLength: 77 },
  vision: { dim: 32, layers: 2, heads: 2, intermediate: 64, imageSize: 224, patchSize: 32, projectionDim: 32 },
  // Random, so it never flags: its thresholds are 1 and a cosine similarity cannot exceed 1 (see safety-checker.ts)
  safetyChecker: { vision: { dim: 32, layers: 2, heads: 2, intermediate: 64, imageSize: 224, patchSize: 32, projectionDim: 32 } },
  unet: {
    inChannels: 4,
    outChannels: 4,
    blockOutChannels: [16, 32, 32],
    downBlockTypes: ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"],
    layersPerBlock: 1,
    heads: 2,
    normGroups: 8,
  },
  vae: { latentChannels: 4, blockOutChannels: [8, 16, 16, 16], layersPerBlock: 1, normGroups: 4, scalingFactor: 0.18215 },
};
