import type { ModelConfig } from "../../gpu-runner/src/graph/configs/model-config.ts";
import { SD15_CONFIG } from "../../gpu-runner/src/graph/configs/sd15.ts";

/**
 * The two sizes the bench writes: SD 1.5 + CLIP ViT-L/14 as published, and the parity fixtures' tiny
 * SD-1.5-structured model (`/work/shared/data/parity/fastcomposer-checkpoint/expected-model-config.json`),
 * plus the config files a real install carries, with the published files' fields and these sizes.
 */

export const FULL: ModelConfig = { ...SD15_CONFIG, name: "bench-sd15" };

export const SMALL: ModelConfig = {
  ...SD15_CONFIG,
  name: "bench-small",
  hiddenSize: 64,
  tokenizer: { kind: "file", vocabSize: 1000 },
  text: { dim: 64, layers: 2, heads: 4, intermediate: 256, maxLength: 77 },
  vision: { dim: 48, layers: 2, heads: 3, intermediate: 192, imageSize: 224, patchSize: 14, projectionDim: 64 },
  unet: { ...SD15_CONFIG.unet, blockOutChannels: [32, 32, 32, 32] },
  vae: { ...SD15_CONFIG.vae, blockOutChannels: [32, 32, 32, 32] },
};

const vocabOf = (c: ModelConfig) => (c.tokenizer.kind === "file" ? c.tokenizer.vocabSize : 0);

/** runwayml/stable-diffusion-v1-5's model_index.json. */
export const MODEL_INDEX = {
  _class_name: "StableDiffusionPipeline",
  _diffusers_version: "0.6.0",
  feature_extractor: ["transformers", "CLIPImageProcessor"],
  safety_checker: ["stable_diffusion", "StableDiffusionSafetyChecker"],
  scheduler: ["diffusers", "PNDMScheduler"],
  text_encoder: ["transformers", "CLIPTextModel"],
  tokenizer: ["transformers", "CLIPTokenizer"],
  unet: ["diffusers", "UNet2DConditionModel"],
  vae: ["diffusers", "AutoencoderKL"],
};

export const SCHEDULER_CONFIG = {
  _class_name: "PNDMScheduler",
  _diffusers_version: "0.6.0",
  beta_end: 0.012,
  beta_schedule: "scaled_linear",
  beta_start: 0.00085,
  num_train_timesteps: 1000,
  set_alpha_to_one: false,
  skip_prk_steps: true,
  steps_offset: 1,
  trained_betas: null,
  clip_sample: false,
};

export function unetConfigJson(c: ModelConfig): object {
  const up = [...c.unet.downBlockTypes].reverse().map((t) => (t === "CrossAttnDownBlock2D" ? "CrossAttnUpBlock2D" : "UpBlock2D"));
  return {
    _class_name: "UNet2DConditionModel",
    _diffusers_version: "0.6.0",
    act_fn: "silu",
    attention_head_dim: c.unet.heads,
    block_out_channels: c.unet.blockOutChannels,
    center_input_sample: false,
    cross_attention_dim: c.hiddenSize,
    down_block_types: c.unet.downBlockTypes,
    downsample_padding: 1,
    flip_sin_to_cos: true,
    freq_shift: 0,
    in_channels: c.unet.inChannels,
    layers_per_block: c.unet.layersPerBlock,
    mid_block_scale_factor: 1,
    norm_eps: 1e-5,
    norm_num_groups: c.unet.normGroups,
    out_channels: c.unet.outChannels,
    sample_size: 64,
    up_block_types: up,
  };
}

/** As published: no scaling_factor (diffusers' default 0.18215). */
export function vaeConfigJson(c: ModelConfig): object {
  const n = c.vae.blockOutChannels.length;
  return {
    _class_name: "AutoencoderKL",
    _diffusers_version: "0.6.0",
    act_fn: "silu",
    block_out_channels: c.vae.blockOutChannels,
    down_block_types: Array(n).fill("DownEncoderBlock2D"),
    in_channels: 3,
    latent_channels: c.vae.latentChannels,
    layers_per_block: c.vae.layersPerBlock,
    norm_num_groups: c.vae.normGroups,
    out_channels: 3,
    sample_size: 512,
    up_block_types: Array(n).fill("UpDecoderBlock2D"),
  };
}

function textConfig(c: ModelConfig) {
  return {
    hidden_size: c.text.dim,
    intermediate_size: c.text.intermediate,
    num_attention_heads: c.text.heads,
    num_hidden_layers: c.text.layers,
    max_position_embeddings: c.text.maxLength,
    vocab_size: vocabOf(c),
    hidden_act: "quick_gelu",
    layer_norm_eps: 1e-5,
    projection_dim: c.hiddenSize,
  };
}

export function textEncoderConfigJson(c: ModelConfig): object {
  return {
    _name_or_path: "openai/clip-vit-large-patch14",
    architectures: ["CLIPTextModel"],
    attention_dropout: 0.0,
    bos_token_id: 0,
    dropout: 0.0,
    eos_token_id: 2,
    initializer_factor: 1.0,
    initializer_range: 0.02,
    model_type: "clip_text_model",
    pad_token_id: 1,
    torch_dtype: "float32",
    transformers_version: "4.22.0.dev0",
    ...textConfig(c),
  };
}

/** openai/clip-vit-large-patch14's CLIPModel config.json (with the legacy *_config_dict overrides it carries). */
export function clipConfigJson(c: ModelConfig): object {
  const vision = {
    hidden_size: c.vision.dim,
    intermediate_size: c.vision.intermediate,
    num_attention_heads: c.vision.heads,
    num_hidden_layers: c.vision.layers,
    image_size: c.vision.imageSize,
    patch_size: c.vision.patchSize,
    num_channels: 3,
    hidden_act: "quick_gelu",
    layer_norm_eps: 1e-5,
    projection_dim: c.vision.projectionDim,
  };
  const text = textConfig(c);
  return {
    _name_or_path: "openai/clip-vit-large-patch14",
    architectures: ["CLIPModel"],
    initializer_factor: 1.0,
    logit_scale_init_value: 2.6592,
    model_type: "clip",
    projection_dim: c.vision.projectionDim,
    text_config: { ...text, model_type: "clip_text_model" },
    text_config_dict: { hidden_size: text.hidden_size, intermediate_size: text.intermediate_size, num_attention_heads: text.num_attention_heads, num_hidden_layers: text.num_hidden_layers, projection_dim: text.projection_dim },
    torch_dtype: "float32",
    transformers_version: null,
    vision_config: { ...vision, model_type: "clip_vision_model" },
    vision_config_dict: { hidden_size: vision.hidden_size, intermediate_size: vision.intermediate_size, num_attention_heads: vision.num_attention_heads, num_hidden_layers: vision.num_hidden_layers, projection_dim: vision.projection_dim, patch_size: vision.patch_size },
  };
}

export { vocabOf };
