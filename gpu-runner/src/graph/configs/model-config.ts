/** The sizes a bundle is built at; `tiny` and `sd15` are the two in this folder. */
export interface ModelConfig {
  name: string;
  /** Embedding width D shared by text, image and fuse graphs (and the UNet's cross-attention context). */
  hiddenSize: number;
  /** Pixel sizes the UNet accepts (manifest.sizes), each side on its own. */
  sizes: { default: { width: number; height: number }; min: number; max: number; multiple: number };
  /**
   * The runner's memory budget in pixels (manifest.memory): a UNet call of batch b at width × height costs
   * b · width · height and runs several images together only within `maxBatchPixels`; the API refuses a job
   * whose one guided pair (2 · width · height) exceeds it, or whose numImages · width · height exceeds `maxJobPixels`.
   */
  memory: { maxBatchPixels: number; maxJobPixels: number };
  /** A trained toy merges file (tiny), or an operator-supplied CLIP merges file of a known vocabulary. */
  tokenizer: { kind: "trained"; numMerges: number } | { kind: "file"; vocabSize: number };
  text: ClipTowerConfig & { maxLength: number };
  vision: ClipVisionConfig;
  unet: UNetConfig;
  vae: VaeConfig;
  /** SD 1.5's StableDiffusionSafetyChecker (`safety_checker.onnx`); absent: the bundle has none. */
  safetyChecker?: SafetyCheckerConfig;
}

export type ClipVisionConfig = ClipTowerConfig & { imageSize: number; patchSize: number; projectionDim: number };

/**
 * A CLIP vision tower with its own projection (`projection_dim` of safety_checker/config.json, 768 for the
 * published one; it need not equal hiddenSize). The 17 concept and 3 special-care embeddings are fixed by
 * diffusers' class, not by the config.
 */
export interface SafetyCheckerConfig {
  vision: ClipVisionConfig;
}

export interface ClipTowerConfig {
  dim: number;
  layers: number;
  heads: number;
  intermediate: number;
}

export type DownBlockType = "CrossAttnDownBlock2D" | "DownBlock2D";

export interface UNetConfig {
  inChannels: number;
  outChannels: number;
  blockOutChannels: number[];
  /** One per resolution; up blocks mirror them (CrossAttnDownBlock2D ↔ CrossAttnUpBlock2D). */
  downBlockTypes: DownBlockType[];
  layersPerBlock: number;
  /** Attention heads of every transformer (SD 1.5's `attention_head_dim: 8` means 8 heads). */
  heads: number;
  normGroups: number;
}

export interface VaeConfig {
  latentChannels: number;
  /** Decoder blocks from the highest resolution (as in vae/config.json). */
  blockOutChannels: number[];
  layersPerBlock: number;
  normGroups: number;
  /**
   * SD 1.5's 0.18215. The decoder graph does NOT apply it: the pipeline divides latents by it
   * before `vae_decoder` (as diffusers does outside the VAE's decode()).
   */
  scalingFactor: number;
}
