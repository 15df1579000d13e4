import { GraphBuilder } from "../../gpu-runner/src/graph/builder.ts";
import type { ModelConfig } from "../../gpu-runner/src/graph/configs/model-config.ts";
import { buildFuse } from "../../gpu-runner/src/graph/models/fuse.ts";
import { buildImageEncoder } from "../../gpu-runner/src/graph/models/image-encoder.ts";
import { buildTextEncoder } from "../../gpu-runner/src/graph/models/text-encoder.ts";
import { buildUNet } from "../../gpu-runner/src/graph/models/unet.ts";
import { buildVaeDecoder } from "../../gpu-runner/src/graph/models/vae-decoder.ts";
import type { WeightSource } from "../../gpu-runner/src/graph/weights.ts";
import { mapLdmKey } from "../../gpu-runner/src/checkpoints/ldm-names.ts";
import type { Component } from "../../gpu-runner/src/model-build/component-weights.ts";

/**
 * The tensors of the real files, by component, at any ModelConfig's sizes: the graphs' own weight names
 * (recorded by running the project's graph builders with a source that keeps nothing), plus what real
 * files hold and the graphs never read (the VAE encoder and quant_conv, the CLIP position_ids buffers).
 */

export type DType = "F32" | "F16" | "I64" | "I32";

export interface TensorSpec {
  name: string;
  dtype: DType;
  shape: number[];
  /** "arange": 0, 1, … along the last dimension (position_ids); random otherwise. */
  values?: "arange";
}

export const numel = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);
export const BYTES: Record<DType, number> = { F32: 4, F16: 2, I64: 8, I32: 4 };
export const byteSize = (t: TensorSpec): number => numel(t.shape) * BYTES[t.dtype];

/** A WeightSource that records (name, dims) and hands out zeros from one shared buffer. */
class Recorder implements WeightSource {
  readonly names: { name: string; shape: number[] }[] = [];
  private buffer = new Float32Array(0);
  tensor(name: string, dims: number[]): Float32Array {
    this.names.push({ name, shape: [...dims] });
    const n = numel(dims);
    if (this.buffer.length < n) this.buffer = new Float32Array(n);
    return this.buffer.subarray(0, n);
  }
}

const GRAPHS: [Component, (g: GraphBuilder, c: ModelConfig) => void][] = [
  ["textEncoder", (g, c) => buildTextEncoder(g, c, c.tokenizer.kind === "file" ? c.tokenizer.vocabSize : 0)],
  ["imageEncoder", buildImageEncoder],
  ["fuse", buildFuse],
  ["unet", (g, c) => buildUNet(g, c)],
  ["vae", buildVaeDecoder],
];

/** Each graph's weight names and shapes, in the order the builder asks for them. Every initializer goes to /dev/null. */
export function graphWeights(config: ModelConfig): Map<Component, { name: string; shape: number[] }[]> {
  const out = new Map<Component, { name: string; shape: number[] }[]>();
  for (const [component, build] of GRAPHS) {
    const recorder = new Recorder();
    const g = new GraphBuilder(component, { weights: recorder, externalDataPath: "/dev/null", externalThreshold: 0 });
    build(g, config);
    g.toModel(); // closes /dev/null
    out.set(component, recorder.names);
  }
  return out;
}

/** diffusers AutoencoderKL's encoder + quant_conv (the decoder graph never reads them), in state-dict order. */
export function vaeEncoderWeights(config: ModelConfig): { name: string; shape: number[] }[] {
  const { blockOutChannels: ch, layersPerBlock, latentChannels } = config.vae;
  const list: { name: string; shape: number[] }[] = [];
  const conv = (name: string, out: number, inC: number, k: number) => list.push({ name: `${name}.weight`, shape: [out, inC, k, k] }, { name: `${name}.bias`, shape: [out] });
  const norm = (name: string, c: number) => list.push({ name: `${name}.weight`, shape: [c] }, { name: `${name}.bias`, shape: [c] });
  const resnet = (p: string, inC: number, out: number) => {
    norm(`${p}.norm1`, inC);
    conv(`${p}.conv1`, out, inC, 3);
    norm(`${p}.norm2`, out);
    conv(`${p}.conv2`, out, out, 3);
    if (inC !== out) conv(`${p}.conv_shortcut`, out, inC, 1);
  };
  conv("encoder.conv_in", ch[0], 3, 3);
  let c = ch[0];
  ch.forEach((out, i) => {
    for (let j = 0; j < layersPerBlock; j++) {
      resnet(`encoder.down_blocks.${i}.resnets.${j}`, j === 0 ? c : out, out);
    }
    c = out;
    if (i < ch.length - 1) conv(`encoder.down_blocks.${i}.downsamplers.0.conv`, out, out, 3);
  });
  // UNetMidBlock2D registers its attentions before its resnets
  norm("encoder.mid_block.attentions.0.group_norm", c);
  for (const p of ["to_q", "to_k", "to_v", "to_out.0"]) list.push({ name: `encoder.mid_block.attentions.0.${p}.weight`, shape: [c, c] }, { name: `encoder.mid_block.attentions.0.${p}.bias`, shape: [c] });
  resnet("encoder.mid_block.resnets.0", c, c);
  resnet("encoder.mid_block.resnets.1", c, c);
  norm("encoder.conv_norm_out", c);
  conv("encoder.conv_out", 2 * latentChannels, c, 3);
  conv("quant_conv", 2 * latentChannels, 2 * latentChannels, 1);
  return list;
}

/**
 * Every tensor of each component's state dict under the graph's (diffusers ≥ 0.17 / transformers) names,
 * floats in `dtype`: exactly what the converter must either use or ignore by rule.
 */
export function componentTensors(config: ModelConfig, dtype: "F32" | "F16"): Map<Component, TensorSpec[]> {
  const graphs = graphWeights(config);
  const f = (list: { name: string; shape: number[] }[]): TensorSpec[] => list.map(({ name, shape }) => ({ name, dtype, shape }));
  const positions = (config.vision.imageSize / config.vision.patchSize) ** 2 + 1;
  const decoder = graphs.get("vae")!;
  return new Map<Component, TensorSpec[]>([
    ["unet", f(graphs.get("unet")!)],
    // AutoencoderKL: encoder, decoder, quant_conv, post_quant_conv
    [
      "vae",
      [
        ...f(vaeEncoderWeights(config).filter((t) => !t.name.startsWith("quant_conv."))),
        ...f(decoder.filter((t) => t.name.startsWith("decoder."))),
        ...f(vaeEncoderWeights(config).filter((t) => t.name.startsWith("quant_conv."))),
        ...f(decoder.filter((t) => !t.name.startsWith("decoder."))),
      ],
    ],
    ["textEncoder", [...f(graphs.get("textEncoder")!), { name: "text_model.embeddings.position_ids", dtype: "I64", shape: [1, config.text.maxLength], values: "arange" }]],
    ["imageEncoder", [...f(graphs.get("imageEncoder")!), { name: "vision_model.embeddings.position_ids", dtype: "I64", shape: [1, positions], values: "arange" }]],
    ["fuse", f(graphs.get("fuse")!)],
  ]);
}

// ---- FastComposer's pytorch_model.bin --------------------------------------------------------------------

const NEW_TO_OLD_VAE_ATTN: Record<string, string> = { to_q: "query", to_k: "key", to_v: "value", "to_out.0": "proj_attn" };

/** diffusers ≥ 0.17 VAE attention names → the 0.16 names FastComposer's checkpoint has. */
export function oldVaeAttention(name: string): string {
  return name.replace(/(mid_block\.attentions\.0\.)(to_q|to_k|to_v|to_out\.0)\./, (_, lead: string, p: string) => `${lead}${NEW_TO_OLD_VAE_ATTN[p]}.`);
}

/** `FastComposerModel.state_dict()`: text_encoder (no `text_model.` level), image_encoder, vae (old attention names), unet, postfuse_module. */
export function fastComposerKeys(components: Map<Component, TensorSpec[]>): TensorSpec[] {
  const rename = (list: TensorSpec[], f: (name: string) => string) => list.map((t) => ({ ...t, name: f(t.name) }));
  return [
    ...rename(components.get("textEncoder")!, (n) => `text_encoder.${n.replace(/^text_model\./, "")}`),
    ...rename(components.get("imageEncoder")!, (n) => `image_encoder.${n}`),
    ...rename(components.get("vae")!, (n) => `vae.${oldVaeAttention(n)}`),
    ...rename(components.get("unet")!, (n) => `unet.${n}`),
    ...rename(components.get("fuse")!, (n) => `postfuse_module.${n}`),
  ];
}

// ---- the CompVis / LDM single file ------------------------------------------------------------------------

const UNET_RESNET: Record<string, string> = { norm1: "in_layers.0", conv1: "in_layers.2", time_emb_proj: "emb_layers.1", norm2: "out_layers.0", conv2: "out_layers.3", conv_shortcut: "skip_connection" };
const UNET_FIXED: Record<string, string> = { "time_embedding.linear_1": "time_embed.0", "time_embedding.linear_2": "time_embed.2", conv_in: "input_blocks.0.0", conv_norm_out: "out.0", conv_out: "out.2" };
const VAE_ATTN: Record<string, string> = { group_norm: "norm", to_q: "q", to_k: "k", to_v: "v", "to_out.0": "proj_out" };

function unetToLdm(name: string, config: ModelConfig): string {
  const L = config.unet.layersPerBlock;
  const per = L + 1;
  const levels = config.unet.blockOutChannels.length;
  const resnet = (rest: string) => {
    const m = /^(\w+)\.(weight|bias)$/.exec(rest);
    if (!m || !UNET_RESNET[m[1]]) throw new Error(`unet resnet member ${rest}`);
    return `${UNET_RESNET[m[1]]}.${m[2]}`;
  };
  let m: RegExpExecArray | null;
  if ((m = /^(time_embedding\.linear_[12]|conv_in|conv_norm_out|conv_out)\.(weight|bias)$/.exec(name))) return `${UNET_FIXED[m[1]]}.${m[2]}`;
  if ((m = /^down_blocks\.(\d+)\.resnets\.(\d+)\.(.+)$/.exec(name))) return `input_blocks.${Number(m[1]) * per + Number(m[2]) + 1}.0.${resnet(m[3])}`;
  if ((m = /^down_blocks\.(\d+)\.attentions\.(\d+)\.(.+)$/.exec(name))) return `input_blocks.${Number(m[1]) * per + Number(m[2]) + 1}.1.${m[3]}`;
  if ((m = /^down_blocks\.(\d+)\.downsamplers\.0\.conv\.(weight|bias)$/.exec(name))) return `input_blocks.${(Number(m[1]) + 1) * per}.0.op.${m[2]}`;
  if ((m = /^mid_block\.resnets\.([01])\.(.+)$/.exec(name))) return `middle_block.${m[1] === "0" ? 0 : 2}.${resnet(m[2])}`;
  if ((m = /^mid_block\.attentions\.0\.(.+)$/.exec(name))) return `middle_block.1.${m[1]}`;
  if ((m = /^up_blocks\.(\d+)\.resnets\.(\d+)\.(.+)$/.exec(name))) return `output_blocks.${Number(m[1]) * per + Number(m[2])}.0.${resnet(m[3])}`;
  if ((m = /^up_blocks\.(\d+)\.attentions\.(\d+)\.(.+)$/.exec(name))) return `output_blocks.${Number(m[1]) * per + Number(m[2])}.1.${m[3]}`;
  if ((m = /^up_blocks\.(\d+)\.upsamplers\.0\.conv\.(weight|bias)$/.exec(name))) {
    const i = Number(m[1]);
    const withAttention = config.unet.downBlockTypes[levels - 1 - i] === "CrossAttnDownBlock2D";
    return `output_blocks.${i * per + L}.${withAttention ? 2 : 1}.conv.${m[2]}`;
  }
  throw new Error(`no LDM name for unet ${name}`);
}

function vaeToLdm(t: TensorSpec, config: ModelConfig): TensorSpec {
  const levels = config.vae.blockOutChannels.length;
  const name = t.name;
  const resnet = (r: string) => (r === "conv_shortcut" ? "nin_shortcut" : r);
  let m: RegExpExecArray | null;
  let out: string | undefined;
  let shape = t.shape;
  if (/^(quant_conv|post_quant_conv)\./.test(name)) out = name;
  else if ((m = /^(encoder|decoder)\.(conv_in|conv_out)\.(weight|bias)$/.exec(name))) out = name;
  else if ((m = /^(encoder|decoder)\.conv_norm_out\.(weight|bias)$/.exec(name))) out = `${m[1]}.norm_out.${m[2]}`;
  else if ((m = /^(encoder|decoder)\.mid_block\.resnets\.([01])\.(\w+)\.(weight|bias)$/.exec(name))) out = `${m[1]}.mid.block_${Number(m[2]) + 1}.${resnet(m[3])}.${m[4]}`;
  else if ((m = /^(encoder|decoder)\.mid_block\.attentions\.0\.(group_norm|to_q|to_k|to_v|to_out\.0)\.(weight|bias)$/.exec(name))) {
    out = `${m[1]}.mid.attn_1.${VAE_ATTN[m[2]]}.${m[3]}`;
    if (m[2] !== "group_norm" && m[3] === "weight") shape = [...t.shape, 1, 1]; // ldm's AttnBlock: 1×1 convs
  } else if ((m = /^encoder\.down_blocks\.(\d+)\.resnets\.(\d+)\.(\w+)\.(weight|bias)$/.exec(name))) out = `encoder.down.${m[1]}.block.${m[2]}.${resnet(m[3])}.${m[4]}`;
  else if ((m = /^encoder\.down_blocks\.(\d+)\.downsamplers\.0\.conv\.(weight|bias)$/.exec(name))) out = `encoder.down.${m[1]}.downsample.conv.${m[2]}`;
  else if ((m = /^decoder\.up_blocks\.(\d+)\.resnets\.(\d+)\.(\w+)\.(weight|bias)$/.exec(name))) out = `decoder.up.${levels - 1 - Number(m[1])}.block.${m[2]}.${resnet(m[3])}.${m[4]}`;
  else if ((m = /^decoder\.up_blocks\.(\d+)\.upsamplers\.0\.conv\.(weight|bias)$/.exec(name))) out = `decoder.up.${levels - 1 - Number(m[1])}.upsample.conv.${m[2]}`;
  if (out === undefined) throw new Error(`no LDM name for vae ${name}`);
  return { ...t, name: `first_stage_model.${out}`, shape };
}

/** LatentDiffusion's schedule buffers as v1-5-pruned-emaonly carries them (the converter ignores them by rule). */
const SCHEDULE_BUFFERS = [
  "betas", "alphas_cumprod", "alphas_cumprod_prev", "sqrt_alphas_cumprod", "sqrt_one_minus_alphas_cumprod", "log_one_minus_alphas_cumprod",
  "sqrt_recip_alphas_cumprod", "sqrt_recipm1_alphas_cumprod", "posterior_variance", "posterior_log_variance_clipped", "posterior_mean_coef1", "posterior_mean_coef2",
];
export const isScheduleBuffer = (name: string): boolean => SCHEDULE_BUFFERS.includes(name);

/**
 * The single-file state dict (`model.diffusion_model.*`, `first_stage_model.*`, `cond_stage_model.transformer.*`)
 * plus the schedule buffers, as diffusers' convert_diffusers_to_original_stable_diffusion.py names it. Each name
 * is checked against the project's own forward map (`mapLdmKey`), so a wrong inverse fails here, not in the bench.
 * `ema`: also the UNet's EMA copy as non-pruned files (`v1-5-pruned.ckpt`, 7.7 GB) hold it — LitEma's buffers,
 * named without dots, between the UNet and the VAE (LatentDiffusion registers `model`, `model_ema`,
 * `first_stage_model`, `cond_stage_model` in that order, its own schedule buffers first).
 */
export function ldmKeys(components: Map<Component, TensorSpec[]>, config: ModelConfig, dtype: "F32" | "F16", options: { ema?: boolean } = {}): TensorSpec[] {
  const unet = components.get("unet")!.map((t) => ({ ...t, name: `model.diffusion_model.${unetToLdm(t.name, config)}` }));
  const vae = components.get("vae")!.map((t) => vaeToLdm(t, config));
  // `--half` halves every tensor, position_ids included; a float32 file keeps them int64
  const text = components.get("textEncoder")!.map((t) => ({ ...t, name: `cond_stage_model.transformer.${t.name}`, ...(t.dtype === "I64" && dtype === "F16" ? { dtype: "F16" as const } : {}) }));
  const layout = { unetLayersPerBlock: config.unet.layersPerBlock, unetLevels: config.unet.blockOutChannels.length, vaeLayersPerBlock: config.vae.layersPerBlock, vaeLevels: config.vae.blockOutChannels.length };
  const back: [TensorSpec[], TensorSpec[], Component][] = [[unet, components.get("unet")!, "unet"], [vae, components.get("vae")!, "vae"], [text, components.get("textEncoder")!, "textEncoder"]];
  for (const [ldm, diffusers, component] of back)
    ldm.forEach((t, i) => {
      const m = mapLdmKey(t.name, layout);
      const want = diffusers[i].name;
      const ok = m.kind === "tensor" ? m.component === component && m.name === want : m.kind === "ignored" && want.endsWith("position_ids");
      if (!ok) throw new Error(`LDM name ${t.name} maps back to ${JSON.stringify(m)}, not ${component} ${want}`);
    });
  const buffers: TensorSpec[] = SCHEDULE_BUFFERS.map((name) => ({ name, dtype, shape: [1000] }));
  const ema: TensorSpec[] = options.ema
    ? [
        { name: "model_ema.decay", dtype: "F32", shape: [], values: "arange" },
        { name: "model_ema.num_updates", dtype: "I32", shape: [], values: "arange" },
        ...unet.map((t) => ({ ...t, name: `model_ema.${t.name.slice("model.".length).replace(/\./g, "")}` })),
      ]
    : [];
  return [...buffers, ...unet, ...ema, ...vae, ...text];
}
