import { SD15_CONFIG } from "../graph/configs/sd15.ts";
import type { ClipTowerConfig, DownBlockType, ModelConfig, SafetyCheckerConfig, UNetConfig, VaeConfig } from "../graph/configs/model-config.ts";
import { SD15_LDM_LAYOUT, type LdmLayout } from "../checkpoints/ldm-names.ts";
import type { Json } from "../checkpoints/diffusers-folder.ts";

/** Where each part's sizes came from, for the build report. */
export type ConfigOrigins = Record<"unet" | "vae" | "text" | "vision" | "safetyChecker", string>;

export interface ConfigInputs {
  /** unet/config.json, vae/config.json, text_encoder/config.json (diffusers / transformers). */
  unet?: Json;
  vae?: Json;
  text?: Json;
  /** `--clip`: a CLIPModel config.json (text_config, vision_config, projection_dim). */
  clip?: Json;
  /** `--sd15-config`: CompVis' v1-inference.yaml, parsed. */
  ldm?: Json;
  /** Rows of the text encoder's token embedding: the vocabulary the graph must hold (unknown before the weights are mapped). */
  vocabSize?: number;
  /** safety_checker/config.json, or `"defaults"` for checker weights without one (the published sizes). Absent: no checker. */
  safetyChecker?: Json | "defaults";
  /** Labels for the report: which file each json came from. */
  labels: Partial<Record<"unet" | "vae" | "text" | "clip" | "ldm" | "safetyChecker", string>>;
}

class ConfigProblem extends Error {}

function num(o: Json, key: string, where: string): number {
  const v = o[key];
  if (typeof v !== "number" || !Number.isFinite(v)) throw new ConfigProblem(`${where}: ${key} must be a number, got ${JSON.stringify(v)}`);
  return v;
}

function nums(o: Json, key: string, where: string): number[] {
  const v = o[key];
  if (!Array.isArray(v) || !v.every((x) => typeof x === "number")) throw new ConfigProblem(`${where}: ${key} must be a list of numbers, got ${JSON.stringify(v)}`);
  return v as number[];
}

function obj(o: Json | undefined, key: string): Json | undefined {
  const v = o?.[key];
  return typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Json) : undefined;
}

/** diffusers UNet2DConditionModel config.json → the graph's UNet sizes (SD 1.x features only). */
function unetFromDiffusers(c: Json, where: string): { unet: UNetConfig; contextDim: number } {
  if (c.use_linear_projection === true) throw new ConfigProblem(`${where}: use_linear_projection is an SD 2.x UNet; this build supports SD 1.x`);
  // SD 1.x's attention_head_dim (8) is really the number of heads; newer configs may say so in num_attention_heads
  const heads = c.num_attention_heads ?? c.attention_head_dim;
  if (typeof heads !== "number") throw new ConfigProblem(`${where}: attention_head_dim ${JSON.stringify(heads)} (per-block heads are SD 2.x); SD 1.x has one number (8)`);
  const down = c.down_block_types as string[];
  const bad = down?.find((t) => t !== "CrossAttnDownBlock2D" && t !== "DownBlock2D");
  if (!Array.isArray(down) || bad) throw new ConfigProblem(`${where}: down_block_types ${JSON.stringify(down)}: only CrossAttnDownBlock2D / DownBlock2D`);
  if (typeof c.layers_per_block !== "number") throw new ConfigProblem(`${where}: layers_per_block must be one number`);
  return {
    unet: {
      inChannels: num(c, "in_channels", where),
      outChannels: num(c, "out_channels", where),
      blockOutChannels: nums(c, "block_out_channels", where),
      downBlockTypes: down as DownBlockType[],
      layersPerBlock: c.layers_per_block,
      heads,
      normGroups: typeof c.norm_num_groups === "number" ? c.norm_num_groups : 32,
    },
    contextDim: num(c, "cross_attention_dim", where),
  };
}

/** CompVis `unet_config.params` → the same. ldm's GroupNorm32 fixes 32 groups. */
function unetFromLdm(p: Json, where: string): { unet: UNetConfig; contextDim: number } {
  if (p.use_linear_in_transformer === true) throw new ConfigProblem(`${where}: use_linear_in_transformer is an SD 2.x UNet; this build supports SD 1.x`);
  const heads = num(p, "num_heads", where);
  if (heads <= 0) throw new ConfigProblem(`${where}: num_heads ${heads} (num_head_channels is SD 2.x); SD 1.x has num_heads 8`);
  const mult = nums(p, "channel_mult", where);
  const attn = nums(p, "attention_resolutions", where);
  return {
    unet: {
      inChannels: num(p, "in_channels", where),
      outChannels: num(p, "out_channels", where),
      blockOutChannels: mult.map((m) => m * num(p, "model_channels", where)),
      // level i runs at downsampling rate 2^i; attention where that rate is listed
      downBlockTypes: mult.map((_, i) => (attn.includes(2 ** i) ? "CrossAttnDownBlock2D" : "DownBlock2D")),
      layersPerBlock: num(p, "num_res_blocks", where),
      heads,
      normGroups: 32,
    },
    contextDim: num(p, "context_dim", where),
  };
}

function vaeFromDiffusers(c: Json, where: string): VaeConfig {
  return {
    latentChannels: num(c, "latent_channels", where),
    blockOutChannels: nums(c, "block_out_channels", where),
    layersPerBlock: num(c, "layers_per_block", where),
    normGroups: typeof c.norm_num_groups === "number" ? c.norm_num_groups : 32,
    scalingFactor: typeof c.scaling_factor === "number" ? c.scaling_factor : 0.18215, // diffusers' default; SD 1.5's file has none
  };
}

function vaeFromLdm(params: Json, scaleFactor: unknown, where: string): VaeConfig {
  const dd = obj(params, "ddconfig");
  if (!dd) throw new ConfigProblem(`${where}: first_stage_config.params.ddconfig is missing`);
  return {
    latentChannels: num(dd, "z_channels", where),
    blockOutChannels: nums(dd, "ch_mult", where).map((m) => m * num(dd, "ch", where)),
    layersPerBlock: num(dd, "num_res_blocks", where),
    normGroups: 32,
    scalingFactor: typeof scaleFactor === "number" ? scaleFactor : 0.18215,
  };
}

function tower(c: Json, where: string): ClipTowerConfig {
  return {
    dim: num(c, "hidden_size", where),
    layers: num(c, "num_hidden_layers", where),
    heads: num(c, "num_attention_heads", where),
    intermediate: num(c, "intermediate_size", where),
  };
}

/**
 * safety_checker/config.json (transformers' CLIPConfig, as SD 1.5 ships it) → the checker's sizes. diffusers
 * sizes `visual_projection` and the concept embeddings by the top-level `projection_dim`, not
 * `vision_config.projection_dim`; the legacy `vision_config_dict` overrides `vision_config` as in transformers < 4.27.
 */
export function safetyCheckerFromConfig(json: Json, where: string): SafetyCheckerConfig {
  try {
    const v = { ...obj(json, "vision_config"), ...obj(json, "vision_config_dict") };
    if (Object.keys(v).length === 0) throw new ConfigProblem(`${where}: no vision_config`);
    const vwhere = `${where} vision_config`;
    return {
      vision: {
        ...tower(v, vwhere),
        imageSize: typeof v.image_size === "number" ? v.image_size : 224,
        patchSize: num(v, "patch_size", vwhere),
        projectionDim: num(json, "projection_dim", where),
      },
    };
  } catch (e) {
    if (e instanceof ConfigProblem) throw new Error(`model config: ${e.message}`);
    throw e;
  }
}

/** The LDM layout the single-file key map needs (levels and resnets per level): the yaml's, or SD 1.5's. */
export function ldmLayout(ldm: Json | undefined, where = "yaml"): LdmLayout {
  const params = obj(obj(ldm, "model"), "params");
  const unet = obj(obj(params, "unet_config"), "params");
  const dd = obj(obj(obj(params, "first_stage_config"), "params"), "ddconfig");
  try {
    return {
      unetLayersPerBlock: unet ? num(unet, "num_res_blocks", where) : SD15_LDM_LAYOUT.unetLayersPerBlock,
      unetLevels: unet ? nums(unet, "channel_mult", where).length : SD15_LDM_LAYOUT.unetLevels,
      vaeLayersPerBlock: dd ? num(dd, "num_res_blocks", where) : SD15_LDM_LAYOUT.vaeLayersPerBlock,
      vaeLevels: dd ? nums(dd, "ch_mult", where).length : SD15_LDM_LAYOUT.vaeLevels,
    };
  } catch (e) {
    throw new Error(`model config: ${(e as Error).message}`);
  }
}

/**
 * The graph sizes, from the sources' config files where they have them; SD 1.5's and CLIP ViT-L/14's
 * published values otherwise. Head counts cannot be read from weight shapes, so they always come from
 * a config (or those defaults); every other size is then checked against the tensors by the graph build.
 */
export function deriveModelConfig(inputs: ConfigInputs, name: string): { config: ModelConfig; origins: ConfigOrigins } {
  const base = SD15_CONFIG;
  const origins: ConfigOrigins = { unet: "SD 1.5 defaults", vae: "SD 1.5 defaults", text: "CLIP ViT-L/14 defaults", vision: "CLIP ViT-L/14 defaults", safetyChecker: "none in the inputs" };
  try {
    let unet = base.unet;
    let contextDim = base.hiddenSize;
    const ldmParams = obj(obj(inputs.ldm, "model"), "params");
    if (inputs.unet) {
      ({ unet, contextDim } = unetFromDiffusers(inputs.unet, inputs.labels.unet ?? "unet/config.json"));
      origins.unet = inputs.labels.unet ?? "unet/config.json";
    } else if (inputs.ldm) {
      const p = obj(obj(ldmParams, "unet_config"), "params");
      if (!p) throw new ConfigProblem(`${inputs.labels.ldm}: model.params.unet_config.params is missing`);
      ({ unet, contextDim } = unetFromLdm(p, inputs.labels.ldm ?? "yaml"));
      origins.unet = inputs.labels.ldm ?? "yaml";
    }

    let vae = base.vae;
    if (inputs.vae) {
      vae = vaeFromDiffusers(inputs.vae, inputs.labels.vae ?? "vae/config.json");
      origins.vae = inputs.labels.vae ?? "vae/config.json";
    } else if (inputs.ldm) {
      const p = obj(obj(ldmParams, "first_stage_config"), "params");
      if (!p) throw new ConfigProblem(`${inputs.labels.ldm}: model.params.first_stage_config.params is missing`);
      vae = vaeFromLdm(p, ldmParams?.scale_factor, inputs.labels.ldm ?? "yaml");
      origins.vae = inputs.labels.ldm ?? "yaml";
    }

    let text = { ...base.text };
    const clipText = obj(inputs.clip, "text_config");
    const textJson = inputs.text ?? (clipText ? { ...clipText, ...obj(inputs.clip, "text_config_dict") } : undefined);
    if (textJson) {
      const where = inputs.text ? (inputs.labels.text ?? "text_encoder/config.json") : `${inputs.labels.clip} text_config`;
      text = { ...tower(textJson, where), maxLength: typeof textJson.max_position_embeddings === "number" ? textJson.max_position_embeddings : 77 };
      origins.text = where;
    }

    let vision = { ...base.vision };
    const visionJson = obj(inputs.clip, "vision_config");
    if (visionJson) {
      // transformers < 4.27 let the legacy *_config_dict override *_config; the published file has both
      const v = { ...visionJson, ...obj(inputs.clip, "vision_config_dict") };
      const where = `${inputs.labels.clip} vision_config`;
      vision = {
        ...tower(v, where),
        imageSize: typeof v.image_size === "number" ? v.image_size : 224,
        patchSize: num(v, "patch_size", where),
        projectionDim: num(inputs.clip!, "projection_dim", inputs.labels.clip ?? "clip config"),
      };
      origins.vision = where;
    }

    const hiddenSize = text.dim;
    const mismatch = [
      contextDim !== hiddenSize && `the UNet's cross-attention width ${contextDim} (${origins.unet})`,
      vision.projectionDim !== hiddenSize && `the image encoder's projection ${vision.projectionDim} (${origins.vision})`,
    ].filter(Boolean);
    if (mismatch.length) throw new ConfigProblem(`the text encoder's width ${hiddenSize} (${origins.text}) differs from ${mismatch.join(" and ")}`);
    const vocabSize = inputs.vocabSize ?? 49408; // CLIP's, until the weights say
    if (inputs.vocabSize !== undefined && typeof textJson?.vocab_size === "number" && textJson.vocab_size !== inputs.vocabSize) {
      throw new ConfigProblem(`${origins.text} says vocab_size ${textJson.vocab_size}, the text encoder's token embedding has ${inputs.vocabSize} rows`);
    }
    let safetyChecker: ModelConfig["safetyChecker"];
    if (inputs.safetyChecker === "defaults") {
      safetyChecker = base.safetyChecker;
      origins.safetyChecker = "SD 1.5 safety checker defaults";
    } else if (inputs.safetyChecker) {
      origins.safetyChecker = inputs.labels.safetyChecker ?? "safety_checker/config.json";
      safetyChecker = safetyCheckerFromConfig(inputs.safetyChecker, origins.safetyChecker);
    }
    const config: ModelConfig = { ...base, name, hiddenSize, tokenizer: { kind: "file", vocabSize }, text, vision, unet, vae, safetyChecker };
    return { config, origins };
  } catch (e) {
    if (e instanceof ConfigProblem) throw new Error(`model config: ${e.message}`);
    throw e;
  }
}
