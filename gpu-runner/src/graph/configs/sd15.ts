import type { ModelConfig } from "./model-config.ts";

/** Stable Diffusion 1.5 + CLIP ViT-L/14 at their real sizes (diffusers/transformers config.json values). */
export const SD15_CONFIG: ModelConfig = {
  name: "sd15",
  hiddenSize: 768,
  // 768 at most: self-attention holds full [heads, hw, hw] scores, and 1024² (a 128² latent) needs
  // tens of GB per layer, more than a g5's 24 GB A10G. Raise it once self-attention is fused.
  sizes: { default: { width: 512, height: 512 }, min: 256, max: 768, multiple: 64 },
  tokenizer: { kind: "file", vocabSize: 49408 },
  text: { dim: 768, layers: 12, heads: 12, intermediate: 3072, maxLength: 77 },
  vision: { dim: 1024, layers: 24, heads: 16, intermediate: 4096, imageSize: 224, patchSize: 14, projectionDim: 768 },
  unet: {
    inChannels: 4,
    outChannels: 4,
    blockOutChannels: [320, 640, 1280, 1280],
    downBlockTypes: ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"],
    layersPerBlock: 2,
    heads: 8,
    normGroups: 32,
  },
  vae: { latentChannels: 4, blockOutChannels: [128, 256, 512, 512], layersPerBlock: 2, normGroups: 32, scalingFactor: 0.18215 },
};
