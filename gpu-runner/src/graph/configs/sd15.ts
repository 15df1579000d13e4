import type { ModelConfig } from "./model-config.ts";

/** Stable Diffusion 1.5 + CLIP ViT-L/14 at their real sizes (diffusers/transformers config.json values). */
export const SD15_CONFIG: ModelConfig = {
  name: "sd15",
  hiddenSize: 768,
  // Up to 1024 on each side, non-square included. The attentions are fused (com.microsoft.MultiHeadAttention):
  // the explicit form held [B, heads, hw, hw] scores, 17 GB per self-attention layer at 1024² (a 128² latent)
  // in float32, which is why this was 768 before.
  sizes: { default: { width: 512, height: 512 }, min: 256, max: 1024, multiple: 64 },
  // Sized for a g5 (A10G, 24 GB) with fused attention. The weights take ≈ 5.3 GB in float32 (UNet 3.4, CLIP
  // vision 1.2, text 0.5, VAE 0.2: an fp32 bundle, or the CPU graphs of an fp16 one), ≈ 2.7 GB as the fp16
  // bundle's GPU graphs keep them. With no hw × hw scores
  // left, a UNet call's activations grow with batch × pixels only; at batch 2 × 1024² the largest are the
  // level-0 GEGLU's [2, 16384, 2560] (0.34 GB) and the skip connections, a few GB in all. So maxBatchPixels =
  // 2 · 1024² (one 1024² image with its CFG half, or four 512² images batched as 8 · 512²) keeps well inside
  // 24 GB with room for ORT's arena and the VAE decode (≈ 0.5 GB per [1, 128, 1024, 1024] float32 activation).
  // maxJobPixels = 4 · 1024² (four 1024² images) refuses nothing SD 1.5's sizes and numImages ≤ 4 allow: it is
  // the knob for a smaller device, where it bounds how long one job holds a runner.
  memory: { maxBatchPixels: 2 * 1024 * 1024, maxJobPixels: 4 * 1024 * 1024 },
  tokenizer: { kind: "file", vocabSize: 49408 },
  text: { dim: 768, layers: 12, heads: 12, intermediate: 3072, maxLength: 77 },
  vision: { dim: 1024, layers: 24, heads: 16, intermediate: 4096, imageSize: 224, patchSize: 14, projectionDim: 768 },
  // CompVis/stable-diffusion-safety-checker (SD 1.5's safety_checker/): another ViT-L/14, +1.2 GB of float32 weights
  safetyChecker: { vision: { dim: 1024, layers: 24, heads: 16, intermediate: 4096, imageSize: 224, patchSize: 14, projectionDim: 768 } },
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
