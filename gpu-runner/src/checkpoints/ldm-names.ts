/**
 * Key names of the CompVis/LDM single-file Stable Diffusion 1.x layout (`v1-5-pruned-emaonly.safetensors` /
 * `.ckpt` state dicts) → diffusers `UNet2DConditionModel` / `AutoencoderKL` and transformers `CLIPTextModel`
 * names. Pure string mapping; follows diffusers v0.20.2 `convert_from_ckpt.py` (`convert_ldm_unet_checkpoint`,
 * `convert_ldm_vae_checkpoint`), rewritten key by key instead of group by group so each key is judged alone.
 */

export type Component = "unet" | "vae" | "textEncoder";

export interface LdmLayout {
  unetLayersPerBlock: number;
  unetLevels: number;
  vaeLayersPerBlock: number;
  vaeLevels: number;
}

/** SD 1.x: `num_res_blocks` 2 and 4 `channel_mult` levels for both UNet and VAE (real single files carry no config). */
export const SD15_LDM_LAYOUT: LdmLayout = { unetLayersPerBlock: 2, unetLevels: 4, vaeLayersPerBlock: 2, vaeLevels: 4 };

export type LdmMapping =
  | { kind: "tensor"; component: Component; name: string; /** 1x1 conv weight [C,C,1,1] stored for a linear [C,C] */ squeeze?: boolean }
  | { kind: "ignored"; reason: string }
  | { kind: "unknown" };

const UNKNOWN: LdmMapping = { kind: "unknown" };

/** LatentDiffusion's schedule buffers (DDPM.register_schedule and friends): derived from the config, not weights. */
const SCHEDULE_BUFFERS = new Set([
  "betas", "alphas_cumprod", "alphas_cumprod_prev", "sqrt_alphas_cumprod", "sqrt_one_minus_alphas_cumprod",
  "log_one_minus_alphas_cumprod", "sqrt_recip_alphas_cumprod", "sqrt_recipm1_alphas_cumprod", "posterior_variance",
  "posterior_log_variance_clipped", "posterior_mean_coef1", "posterior_mean_coef2", "logvar", "lvlb_weights",
  "scale_factor",
]);

/** Whole-number index without leading zeros, so two spellings cannot land on one name. */
const N = "(0|[1-9]\\d*)";
const P = "(weight|bias)";
const re = (s: string) => new RegExp(`^${s}$`);

// ---- UNet ------------------------------------------------------------------------------------------------

/** Fixed single modules (`time_embed` / `out` are nn.Sequential: the indices skip the activations). */
const UNET_FIXED: Record<string, string> = {
  "time_embed.0": "time_embedding.linear_1",
  "time_embed.2": "time_embedding.linear_2",
  "input_blocks.0.0": "conv_in",
  "out.0": "conv_norm_out",
  "out.2": "conv_out",
};

/** ldm ResBlock's Sequential members → diffusers ResnetBlock2D (activations/dropout hold no weights). */
const UNET_RESNET: Record<string, string> = {
  "in_layers.0": "norm1",
  "in_layers.2": "conv1",
  "emb_layers.1": "time_emb_proj",
  "out_layers.0": "norm2",
  "out_layers.3": "conv2",
  skip_connection: "conv_shortcut",
};

const UNET_FIXED_RE = re(`(time_embed\\.[02]|input_blocks\\.0\\.0|out\\.[02])\\.${P}`);
const UNET_RESNET_RE = re(`(in_layers\\.[02]|emb_layers\\.1|out_layers\\.[03]|skip_connection)\\.${P}`);
/** SpatialTransformer already uses diffusers' Transformer2DModel names. */
const UNET_ATTN_RE = re(`((norm|proj_in|proj_out)\\.${P}|transformer_blocks\\.${N}\\..+)`);
const UNET_BLOCK_RE = re(`(input_blocks|output_blocks)\\.${N}\\.${N}\\.(.+)`);
const UNET_MID_RE = re(`middle_block\\.([012])\\.(.+)`);

function unetResnet(rest: string): string | undefined {
  const m = UNET_RESNET_RE.exec(rest);
  return m ? `${UNET_RESNET[m[1]]}.${m[2]}` : undefined;
}
const unetAttention = (rest: string) => (UNET_ATTN_RE.test(rest) ? rest : undefined);
const under = (prefix: string, inner: string | undefined) => (inner === undefined ? undefined : `${prefix}.${inner}`);

function mapUnet(key: string, L: LdmLayout): string | undefined {
  const fixed = UNET_FIXED_RE.exec(key);
  if (fixed) return `${UNET_FIXED[fixed[1]]}.${fixed[2]}`;

  const mid = UNET_MID_RE.exec(key);
  if (mid) {
    // middle_block = [ResBlock, SpatialTransformer, ResBlock]
    if (mid[1] === "1") return under("mid_block.attentions.0", unetAttention(mid[2]));
    return under(`mid_block.resnets.${mid[1] === "0" ? 0 : 1}`, unetResnet(mid[2]));
  }

  const m = UNET_BLOCK_RE.exec(key);
  if (!m) return undefined;
  const [, which, kStr, sStr, rest] = m;
  const k = Number(kStr), sub = Number(sStr);
  const per = L.unetLayersPerBlock + 1; // lpb resnets (+attentions) and one down/up-sampler slot per level

  if (which === "input_blocks") {
    // input_blocks.0 is conv_in (handled above); then per level: lpb [ResBlock, SpatialTransformer?], then a
    // Downsample alone in its own slot (not after the last level).
    if (k === 0) return undefined;
    const level = Math.floor((k - 1) / per), j = (k - 1) % per;
    if (level >= L.unetLevels) return undefined;
    if (j === L.unetLayersPerBlock) {
      const op = re(`op\\.${P}`).exec(rest);
      return sub === 0 && op && level < L.unetLevels - 1 ? `down_blocks.${level}.downsamplers.0.conv.${op[1]}` : undefined;
    }
    if (sub === 0) return under(`down_blocks.${level}.resnets.${j}`, unetResnet(rest));
    if (sub === 1) return under(`down_blocks.${level}.attentions.${j}`, unetAttention(rest));
    return undefined;
  }

  // output_blocks: per level lpb+1 × [ResBlock, SpatialTransformer?], the last of them also holding an Upsample
  // right after its other members: sub-index 1 without attention (UpBlock2D), 2 with one. Whether sub-index 1
  // is an attention or the Upsample is read off the key (`conv.` is Upsample's only member).
  const level = Math.floor(k / per), j = k % per;
  if (level >= L.unetLevels) return undefined;
  if (sub === 0) return under(`up_blocks.${level}.resnets.${j}`, unetResnet(rest));
  if (sub === 1 && !rest.startsWith("conv.")) return under(`up_blocks.${level}.attentions.${j}`, unetAttention(rest));
  if (sub > 2 || j !== L.unetLayersPerBlock || level >= L.unetLevels - 1) return undefined;
  const conv = re(`conv\\.${P}`).exec(rest);
  return conv ? `up_blocks.${level}.upsamplers.0.conv.${conv[1]}` : undefined;
}

// ---- VAE -------------------------------------------------------------------------------------------------

/** ldm ResnetBlock members; only the shortcut is renamed. */
const VAE_RESNET: Record<string, string> = { norm1: "norm1", conv1: "conv1", norm2: "norm2", conv2: "conv2", nin_shortcut: "conv_shortcut" };
/** ldm AttnBlock (1×1 convs) → diffusers Attention (linears). */
const VAE_ATTN: Record<string, string> = { norm: "group_norm", q: "to_q", k: "to_k", v: "to_v", proj_out: "to_out.0" };

const VAE_TOP_RE = re(`(quant_conv|post_quant_conv)\\.${P}`);
const VAE_SIDE_RE = re(`(encoder|decoder)\\.(.+)`);
const VAE_FIXED_RE = re(`(conv_in|conv_out|norm_out)\\.${P}`);
const VAE_MID_RES_RE = re(`mid\\.block_([12])\\.(\\w+)\\.${P}`);
const VAE_MID_ATTN_RE = re(`mid\\.attn_1\\.(\\w+)\\.${P}`);
const VAE_RES_RE = re(`(down|up)\\.${N}\\.block\\.${N}\\.(\\w+)\\.${P}`);
const VAE_SAMPLER_RE = re(`(down|up)\\.${N}\\.(downsample|upsample)\\.conv\\.${P}`);

function mapVae(key: string, L: LdmLayout): { name: string; squeeze?: boolean } | undefined {
  if (VAE_TOP_RE.test(key)) return { name: key };
  const side = VAE_SIDE_RE.exec(key);
  if (!side) return undefined;
  const [, part, rest] = side;
  const isEnc = part === "encoder";
  let m: RegExpExecArray | null;
  if ((m = VAE_FIXED_RE.exec(rest))) return { name: `${part}.${m[1] === "norm_out" ? "conv_norm_out" : m[1]}.${m[2]}` };
  if ((m = VAE_MID_RES_RE.exec(rest)) && VAE_RESNET[m[2]])
    return { name: `${part}.mid_block.resnets.${Number(m[1]) - 1}.${VAE_RESNET[m[2]]}.${m[3]}` };
  if ((m = VAE_MID_ATTN_RE.exec(rest)) && VAE_ATTN[m[1]]) {
    const name = `${part}.mid_block.attentions.0.${VAE_ATTN[m[1]]}.${m[2]}`;
    return m[1] !== "norm" && m[2] === "weight" ? { name, squeeze: true } : { name };
  }
  // The encoder's `down` runs high → low resolution like diffusers' down_blocks; the decoder's `up` is indexed by
  // resolution too (up.0 = full size, applied last), so diffusers' up_blocks are its reverse.
  const toBlock = (i: number) => (isEnc ? i : L.vaeLevels - 1 - i);
  const blocks = isEnc ? "down_blocks" : "up_blocks";
  if ((m = VAE_RES_RE.exec(rest))) {
    const i = Number(m[2]), j = Number(m[3]);
    const resnets = isEnc ? L.vaeLayersPerBlock : L.vaeLayersPerBlock + 1;
    if (m[1] !== (isEnc ? "down" : "up") || i >= L.vaeLevels || j >= resnets || !VAE_RESNET[m[4]]) return undefined;
    return { name: `${part}.${blocks}.${toBlock(i)}.resnets.${j}.${VAE_RESNET[m[4]]}.${m[5]}` };
  }
  if ((m = VAE_SAMPLER_RE.exec(rest))) {
    const i = Number(m[2]);
    // Encoder: a downsample after every level but the last; decoder: an upsample on every level but up.0.
    const ok = isEnc ? m[1] === "down" && m[3] === "downsample" && i < L.vaeLevels - 1 : m[1] === "up" && m[3] === "upsample" && i >= 1 && i < L.vaeLevels;
    if (!ok) return undefined;
    return { name: `${part}.${blocks}.${toBlock(i)}.${isEnc ? "downsamplers" : "upsamplers"}.0.conv.${m[4]}` };
  }
  return undefined;
}

// ---- entry points ----------------------------------------------------------------------------------------

const UNET_PREFIX = "model.diffusion_model.";
const VAE_PREFIX = "first_stage_model.";
const TEXT_PREFIX = "cond_stage_model.transformer.";

export function mapLdmKey(key: string, layout: LdmLayout = SD15_LDM_LAYOUT): LdmMapping {
  if (SCHEDULE_BUFFERS.has(key)) return { kind: "ignored", reason: `${key}: a LatentDiffusion noise-schedule buffer, not a weight` };
  if (key.startsWith("model_ema.")) return { kind: "ignored", reason: "model_ema.*: the EMA copy kept by non-pruned training files" };

  if (key.startsWith(UNET_PREFIX)) {
    const name = mapUnet(key.slice(UNET_PREFIX.length), layout);
    return name === undefined ? UNKNOWN : { kind: "tensor", component: "unet", name };
  }
  if (key.startsWith(VAE_PREFIX)) {
    const rest = key.slice(VAE_PREFIX.length);
    if (rest.startsWith("loss.")) return { kind: "ignored", reason: "first_stage_model.loss.*: the VAE's training loss (LPIPS/discriminator)" };
    const t = mapVae(rest, layout);
    return t === undefined ? UNKNOWN : { kind: "tensor", component: "vae", ...t };
  }
  if (key.startsWith(TEXT_PREFIX)) {
    const rest = key.slice(TEXT_PREFIX.length);
    if (rest === "") return UNKNOWN;
    // Old files saved CLIPTextModel's inner text_model directly (no `text_model.` level).
    const name = rest.startsWith("text_model.") ? rest : `text_model.${rest}`;
    if (name === "text_model.embeddings.position_ids") return { kind: "ignored", reason: "position_ids: a buffer (0..76), not a weight" };
    return { kind: "tensor", component: "textEncoder", name };
  }
  return UNKNOWN;
}

const OLD_VAE_ATTN_RE = /(^|\.)mid_block\.attentions\.0\.(query|key|value|proj_attn)\./;
const OLD_VAE_ATTN: Record<string, string> = { query: "to_q", key: "to_k", value: "to_v", proj_attn: "to_out.0" };

/** diffusers ≤ 0.16 VAE attention names → ≥ 0.17: mid_block.attentions.0.{query,key,value,proj_attn} → {to_q,to_k,to_v,to_out.0}; anything else unchanged. */
export function renameOldVaeAttention(name: string): string {
  return name.replace(OLD_VAE_ATTN_RE, (_, lead: string, old: string) => `${lead}mid_block.attentions.0.${OLD_VAE_ATTN[old]}.`);
}

/** A message naming the architecture when the keys are not SD 1.x's (SDXL, SD 2.x), else undefined. */
export function detectForeignLayout(keys: Iterable<string>): string | undefined {
  let sd2: string | undefined;
  for (const key of keys) {
    if (key.startsWith("conditioner.embedders.") || key.startsWith(`${UNET_PREFIX}label_emb.`) || key.includes("add_embedding"))
      return `looks like Stable Diffusion XL (key "${key}"), not an SD 1.x single file; only SD 1.x checkpoints are supported`;
    if (sd2 === undefined && key.startsWith("cond_stage_model.model."))
      sd2 = `looks like Stable Diffusion 2.x (OpenCLIP text encoder key "${key}"), not an SD 1.x single file; only SD 1.x checkpoints are supported`;
  }
  return sd2;
}
