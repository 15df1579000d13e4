import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { ModelConfig } from "../../gpu-runner/src/graph/configs/model-config.ts";
import { writeClipTokenizer } from "../../gpu-runner/src/model-build/test-support.ts";
import { clipConfigJson, MODEL_INDEX, SCHEDULER_CONFIG, textEncoderConfigJson, unetConfigJson, vaeConfigJson, vocabOf } from "./configs.ts";
import { componentTensors, fastComposerKeys, ldmKeys, type DType, type TensorSpec } from "./tensor-list.ts";
import { writeSafetensors, writeTorchZip } from "./writers.ts";

/**
 * The files an operator downloads, at a ModelConfig's sizes with random values, in the layouts of
 * `/work/shared/data/parity/{fastcomposer-checkpoint,sd15-single-file}` (see their READMEs). Each writer
 * returns the bytes it wrote.
 */

const json = (path: string, value: unknown) => writeFileSync(path, `${JSON.stringify(value, null, 2)}\n`);

/** safetensors' save_file order: dtype (widest first), then name. */
const DTYPE_RANK: Record<DType, number> = { I64: 4, I32: 3, F32: 2, F16: 1 };
const safetensorsOrder = (list: TensorSpec[]) => [...list].sort((a, b) => DTYPE_RANK[b.dtype] - DTYPE_RANK[a.dtype] || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));

/** mit-han-lab/fastcomposer's `pytorch_model.bin`: torch.save zip (top `pytorch_model/`) of `FastComposerModel.state_dict()`. */
export function writeFastComposerBin(path: string, config: ModelConfig, dtype: "F32" | "F16"): number {
  return writeTorchZip(path, "pytorch_model", fastComposerKeys(componentTensors(config, dtype)), { ordered: true, seed: 11 });
}

/** A diffusers `save_pretrained` SD 1.5 folder (fp16 variant file names when F16), tokenizer included. */
export function writeDiffusersFolder(dir: string, config: ModelConfig, dtype: "F32" | "F16"): number {
  const components = componentTensors(config, dtype);
  const variant = dtype === "F16" ? ".fp16" : "";
  mkdirSync(dir, { recursive: true });
  json(join(dir, "model_index.json"), MODEL_INDEX);
  let bytes = 0;
  const parts: [string, string, TensorSpec[], object][] = [
    ["unet", "diffusion_pytorch_model", components.get("unet")!, unetConfigJson(config)],
    ["vae", "diffusion_pytorch_model", components.get("vae")!, vaeConfigJson(config)],
    ["text_encoder", "model", components.get("textEncoder")!, textEncoderConfigJson(config)],
  ];
  parts.forEach(([sub, base, tensors, cfg], i) => {
    mkdirSync(join(dir, sub), { recursive: true });
    json(join(dir, sub, "config.json"), cfg);
    bytes += writeSafetensors(join(dir, sub, `${base}${variant}.safetensors`), safetensorsOrder(tensors), { metadata: { format: "pt" }, seed: 20 + i });
  });
  mkdirSync(join(dir, "scheduler"), { recursive: true });
  json(join(dir, "scheduler", "scheduler_config.json"), SCHEDULER_CONFIG);
  writeClipTokenizer(join(dir, "tokenizer"), vocabOf(config));
  return bytes;
}

/** `v1-5-pruned-emaonly.safetensors` style: LDM names, no metadata. */
export function writeSingleSafetensors(path: string, config: ModelConfig, dtype: "F32" | "F16"): number {
  return writeSafetensors(path, safetensorsOrder(ldmKeys(componentTensors(config, dtype), config, dtype)), { seed: 30 });
}

/**
 * `v1-5-pruned.ckpt` style (`ema`) or `v1-5-pruned-emaonly.ckpt`: torch.save zip (top `model/`) of
 * `{"state_dict": {…}}`, plain dicts. fp32 with the EMA copy is 7.7 GB: ZIP64, VAE and text encoder past 4 GiB.
 */
export function writeSingleCkpt(path: string, config: ModelConfig, dtype: "F32" | "F16", options: { ema?: boolean } = {}): number {
  return writeTorchZip(path, "model", ldmKeys(componentTensors(config, dtype), config, dtype, options), { wrapped: true, seed: 40 });
}

/** openai/clip-vit-large-patch14: config.json, and vocab.json + merges.txt where the SD 1.5 input has no tokenizer. */
export function writeClipFolder(dir: string, config: ModelConfig, tokenizer: boolean): void {
  mkdirSync(dir, { recursive: true });
  json(join(dir, "config.json"), clipConfigJson(config));
  if (tokenizer) writeClipTokenizer(dir, vocabOf(config));
}

/**
 * CompVis' v1-inference.yaml with `config`'s sizes (`--sd15-config`). Real single files come without one and
 * the converter assumes SD 1.5's values, so the bench passes it only at sizes other than SD 1.5's.
 */
export function writeLdmYaml(path: string, config: ModelConfig): void {
  const base = config.unet.blockOutChannels[0];
  const attention = config.unet.downBlockTypes.flatMap((t, i) => (t === "CrossAttnDownBlock2D" ? [2 ** i] : []));
  const vaeBase = config.vae.blockOutChannels[0];
  writeFileSync(
    path,
    `model:
  target: ldm.models.diffusion.ddpm.LatentDiffusion
  params:
    linear_start: 0.00085
    linear_end: 0.0120
    timesteps: 1000
    image_size: 64
    channels: ${config.vae.latentChannels}
    conditioning_key: crossattn
    scale_factor: ${config.vae.scalingFactor}
    unet_config:
      target: ldm.modules.diffusionmodules.openaimodel.UNetModel
      params:
        in_channels: ${config.unet.inChannels}
        out_channels: ${config.unet.outChannels}
        model_channels: ${base}
        attention_resolutions: [ ${attention.join(", ")} ]
        num_res_blocks: ${config.unet.layersPerBlock}
        channel_mult: [ ${config.unet.blockOutChannels.map((c) => c / base).join(", ")} ]
        num_heads: ${config.unet.heads}
        use_spatial_transformer: True
        transformer_depth: 1
        context_dim: ${config.hiddenSize}
        legacy: False
    first_stage_config:
      target: ldm.models.autoencoder.AutoencoderKL
      params:
        embed_dim: ${config.vae.latentChannels}
        ddconfig:
          double_z: true
          z_channels: ${config.vae.latentChannels}
          resolution: 256
          in_channels: 3
          out_ch: 3
          ch: ${vaeBase}
          ch_mult: [ ${config.vae.blockOutChannels.map((c) => c / vaeBase).join(", ")} ]
          num_res_blocks: ${config.vae.layersPerBlock}
          attn_resolutions: []
          dropout: 0.0
    cond_stage_config:
      target: ldm.modules.encoders.modules.FrozenCLIPEmbedder
`,
  );
}
