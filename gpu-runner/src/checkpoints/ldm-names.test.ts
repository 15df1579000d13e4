import { describe, expect, it } from "vitest";
import { openSafetensors } from "./safetensors-file.ts";
import { keysListing, PARITY } from "./test-support.ts";
import { type Component, type LdmLayout, detectForeignLayout, mapLdmKey, renameOldVaeAttention, SD15_LDM_LAYOUT } from "./ldm-names.ts";

const SINGLE = `${PARITY}sd15-single-file/`;
const STOCK = `${PARITY}fastcomposer-checkpoint/stable-diffusion-v1-5/`;
const DIFFUSERS_FILES: Record<Component, string> = {
  unet: `${STOCK}unet/diffusion_pytorch_model.fp16.safetensors`,
  vae: `${STOCK}vae/diffusion_pytorch_model.fp16.safetensors`,
  textEncoder: `${STOCK}text_encoder/model.fp16.safetensors`,
};

/** name → shape, from a safetensors header. */
function safetensorsShapes(file: string): Map<string, number[]> {
  const f = openSafetensors(file);
  f.close(); // the header is all this needs
  return new Map([...f.tensors].map(([k, t]) => [k, [...t.shape]]));
}

const LDM_KEYS: [string, number[]][] = keysListing(`${SINGLE}model-keys.txt`).map(([name, , shape]) => [name, shape]);

const tensorName = (key: string, layout?: LdmLayout) => {
  const m = mapLdmKey(key, layout);
  return m.kind === "tensor" ? m.name : m.kind;
};

describe("mapLdmKey on the SD 1.5 single-file fixture", () => {
  const mapped = LDM_KEYS.map(([key, shape]) => ({ key, shape, m: mapLdmKey(key) }));

  it("maps every key to a tensor or ignores it", () => {
    expect(LDM_KEYS.length).toBe(959);
    expect(mapped.filter((x) => x.m.kind === "unknown").map((x) => x.key)).toEqual([]);
    expect(mapped.filter((x) => x.m.kind === "ignored").map((x) => x.key)).toEqual(["cond_stage_model.transformer.text_model.embeddings.position_ids"]);
  });

  for (const component of ["unet", "vae", "textEncoder"] as const) {
    it(`${component}: the mapped names are exactly the diffusers file's, one to one, with equal shapes`, () => {
      const want = safetensorsShapes(DIFFUSERS_FILES[component]);
      // Both sides ignore the text encoder's position_ids buffer.
      want.delete("text_model.embeddings.position_ids");
      const got = new Map<string, number[]>();
      for (const { key, shape, m } of mapped) {
        if (m.kind !== "tensor" || m.component !== component) continue;
        expect(got.has(m.name), `${m.name} mapped twice`).toBe(false);
        if (m.squeeze) {
          expect(shape.slice(2), key).toEqual([1, 1]);
          got.set(m.name, shape.slice(0, 2));
        } else got.set(m.name, shape);
      }
      expect([...got.keys()].sort()).toEqual([...want.keys()].sort());
      for (const [name, shape] of want) expect(got.get(name), name).toEqual(shape);
    });
  }

  it("squeezes exactly the VAE attention q/k/v/proj_out weights", () => {
    const squeezed = mapped.filter((x) => x.m.kind === "tensor" && x.m.squeeze).map((x) => x.key).sort();
    expect(squeezed).toEqual(
      ["encoder", "decoder"].flatMap((p) => ["q", "k", "v", "proj_out"].map((n) => `first_stage_model.${p}.mid.attn_1.${n}.weight`)).sort(),
    );
  });

  it("spot checks", () => {
    expect(tensorName("model.diffusion_model.input_blocks.3.0.op.weight")).toBe("down_blocks.0.downsamplers.0.conv.weight");
    expect(tensorName("model.diffusion_model.output_blocks.2.1.conv.bias")).toBe("up_blocks.0.upsamplers.0.conv.bias");
    expect(tensorName("model.diffusion_model.output_blocks.5.2.conv.weight")).toBe("up_blocks.1.upsamplers.0.conv.weight");
    expect(tensorName("model.diffusion_model.output_blocks.5.1.norm.weight")).toBe("up_blocks.1.attentions.2.norm.weight");
    expect(tensorName("model.diffusion_model.middle_block.2.skip_connection.weight")).toBe("mid_block.resnets.1.conv_shortcut.weight");
    expect(tensorName("first_stage_model.decoder.up.3.block.0.conv1.weight")).toBe("decoder.up_blocks.0.resnets.0.conv1.weight");
    expect(tensorName("first_stage_model.decoder.up.1.upsample.conv.weight")).toBe("decoder.up_blocks.2.upsamplers.0.conv.weight");
    // Not in the tiny fixture (32 channels everywhere), but in SD 1.5's VAE.
    expect(tensorName("first_stage_model.encoder.down.1.block.0.nin_shortcut.weight")).toBe("encoder.down_blocks.1.resnets.0.conv_shortcut.weight");
    expect(tensorName("first_stage_model.decoder.up.1.block.0.nin_shortcut.bias")).toBe("decoder.up_blocks.2.resnets.0.conv_shortcut.bias");
  });
});

describe("mapLdmKey: other keys", () => {
  it("ignores schedule buffers, EMA copies, the VAE loss and position_ids", () => {
    for (const k of ["betas", "alphas_cumprod", "posterior_mean_coef2", "logvar", "model_ema.decay", "model_ema.num_updates",
      "model_ema.diffusion_modelinput_blocks00weight", "first_stage_model.loss.logvar",
      "first_stage_model.loss.discriminator.main.0.weight", "cond_stage_model.transformer.embeddings.position_ids"])
      expect(mapLdmKey(k).kind, k).toBe("ignored");
  });

  it("adds text_model. for old text encoder keys", () => {
    expect(tensorName("cond_stage_model.transformer.encoder.layers.0.mlp.fc1.weight")).toBe("text_model.encoder.layers.0.mlp.fc1.weight");
    expect(tensorName("cond_stage_model.transformer.final_layer_norm.bias")).toBe("text_model.final_layer_norm.bias");
  });

  it("reports what does not fit the layout as unknown", () => {
    for (const k of [
      "global_step",
      "model.diffusion_model.label_emb.0.0.weight",
      "model.diffusion_model.input_blocks.0.1.weight",
      "model.diffusion_model.input_blocks.12.0.op.weight", // no downsampler after the last level
      "model.diffusion_model.input_blocks.12.0.in_layers.0.weight", // the downsampler slot
      "model.diffusion_model.input_blocks.1.0.op.weight",
      "model.diffusion_model.input_blocks.1.2.norm.weight",
      "model.diffusion_model.input_blocks.1.0.in_layers.1.weight",
      "model.diffusion_model.input_blocks.01.0.in_layers.0.weight",
      "model.diffusion_model.output_blocks.11.2.conv.weight", // no upsampler on the last level
      "model.diffusion_model.output_blocks.1.1.conv.weight", // upsampler only on a level's last layer
      "model.diffusion_model.output_blocks.2.3.conv.weight",
      "model.diffusion_model.output_blocks.2.2.norm.weight",
      "model.diffusion_model.output_blocks.12.0.in_layers.0.weight",
      "model.diffusion_model.middle_block.3.in_layers.0.weight",
      "first_stage_model.encoder.down.3.downsample.conv.weight",
      "first_stage_model.encoder.down.0.block.2.conv1.weight", // encoder levels have lpb resnets, decoder lpb+1
      "first_stage_model.decoder.up.0.upsample.conv.weight",
      "first_stage_model.decoder.up.4.block.0.conv1.weight",
      "first_stage_model.decoder.mid.attn_1.qkv.weight",
      "first_stage_model.encoder.down.0.attn.0.q.weight",
      "first_stage_model.something.weight",
      "cond_stage_model.model.transformer.resblocks.0.attn.in_proj_weight",
    ])
      expect(mapLdmKey(k), k).toEqual({ kind: "unknown" });
    expect(tensorName("first_stage_model.decoder.up.0.block.2.conv1.weight")).toBe("decoder.up_blocks.3.resnets.2.conv1.weight");
  });
});

describe("other layouts", () => {
  const lpb = (n: number): LdmLayout => ({ ...SD15_LDM_LAYOUT, unetLayersPerBlock: n, vaeLayersPerBlock: n });
  const unet = (k: string, n: number) => tensorName(`model.diffusion_model.${k}`, lpb(n));

  it("layers_per_block 1", () => {
    expect(unet("input_blocks.1.0.in_layers.0.weight", 1)).toBe("down_blocks.0.resnets.0.norm1.weight");
    expect(unet("input_blocks.1.1.proj_in.weight", 1)).toBe("down_blocks.0.attentions.0.proj_in.weight");
    expect(unet("input_blocks.2.0.op.weight", 1)).toBe("down_blocks.0.downsamplers.0.conv.weight");
    expect(unet("input_blocks.3.0.in_layers.0.weight", 1)).toBe("down_blocks.1.resnets.0.norm1.weight");
    expect(unet("input_blocks.6.0.op.weight", 1)).toBe("down_blocks.2.downsamplers.0.conv.weight");
    expect(unet("input_blocks.7.0.out_layers.3.weight", 1)).toBe("down_blocks.3.resnets.0.conv2.weight");
    expect(unet("input_blocks.8.0.op.weight", 1)).toBe("unknown");
    expect(unet("output_blocks.1.1.conv.weight", 1)).toBe("up_blocks.0.upsamplers.0.conv.weight");
    expect(unet("output_blocks.2.0.emb_layers.1.weight", 1)).toBe("up_blocks.1.resnets.0.time_emb_proj.weight");
    expect(unet("output_blocks.3.1.transformer_blocks.0.attn2.to_k.weight", 1)).toBe("up_blocks.1.attentions.1.transformer_blocks.0.attn2.to_k.weight");
    expect(unet("output_blocks.3.2.conv.bias", 1)).toBe("up_blocks.1.upsamplers.0.conv.bias");
    expect(unet("output_blocks.7.1.norm.bias", 1)).toBe("up_blocks.3.attentions.1.norm.bias");
    expect(unet("output_blocks.7.2.conv.bias", 1)).toBe("unknown");
    expect(unet("output_blocks.8.0.in_layers.0.weight", 1)).toBe("unknown");
    expect(tensorName("first_stage_model.encoder.down.2.block.0.conv1.weight", lpb(1))).toBe("encoder.down_blocks.2.resnets.0.conv1.weight");
    expect(tensorName("first_stage_model.encoder.down.2.block.1.conv1.weight", lpb(1))).toBe("unknown");
    expect(tensorName("first_stage_model.decoder.up.3.block.1.conv1.weight", lpb(1))).toBe("decoder.up_blocks.0.resnets.1.conv1.weight");
  });

  it("layers_per_block 3", () => {
    expect(unet("input_blocks.3.1.norm.weight", 3)).toBe("down_blocks.0.attentions.2.norm.weight");
    expect(unet("input_blocks.4.0.op.weight", 3)).toBe("down_blocks.0.downsamplers.0.conv.weight");
    expect(unet("input_blocks.5.0.skip_connection.weight", 3)).toBe("down_blocks.1.resnets.0.conv_shortcut.weight");
    expect(unet("input_blocks.12.0.op.weight", 3)).toBe("down_blocks.2.downsamplers.0.conv.weight");
    expect(unet("input_blocks.15.0.in_layers.2.bias", 3)).toBe("down_blocks.3.resnets.2.conv1.bias");
    expect(unet("output_blocks.3.1.conv.weight", 3)).toBe("up_blocks.0.upsamplers.0.conv.weight");
    expect(unet("output_blocks.2.1.conv.weight", 3)).toBe("unknown");
    expect(unet("output_blocks.7.2.conv.weight", 3)).toBe("up_blocks.1.upsamplers.0.conv.weight");
    expect(unet("output_blocks.15.0.in_layers.0.weight", 3)).toBe("up_blocks.3.resnets.3.norm1.weight");
    expect(tensorName("first_stage_model.decoder.up.0.block.3.conv2.bias", lpb(3))).toBe("decoder.up_blocks.3.resnets.3.conv2.bias");
  });
});

describe("renameOldVaeAttention", () => {
  it("turns the ≤ 0.16 VAE names into the diffusers file's", () => {
    const old = [...safetensorsShapes(`${SINGLE}vae-old-attention-names.safetensors`)];
    const want = safetensorsShapes(DIFFUSERS_FILES.vae);
    const renamed = new Map(old.map(([k, s]) => [renameOldVaeAttention(k), s]));
    expect(renamed.size).toBe(old.length);
    expect([...renamed.keys()].sort()).toEqual([...want.keys()].sort());
    for (const [name, shape] of want) expect(renamed.get(name), name).toEqual(shape);
    expect(old.filter(([k]) => renameOldVaeAttention(k) !== k).length).toBe(16);
  });

  it("keeps a prefix and leaves other names alone", () => {
    expect(renameOldVaeAttention("vae.decoder.mid_block.attentions.0.proj_attn.bias")).toBe("vae.decoder.mid_block.attentions.0.to_out.0.bias");
    expect(renameOldVaeAttention("encoder.mid_block.attentions.0.group_norm.weight")).toBe("encoder.mid_block.attentions.0.group_norm.weight");
    expect(renameOldVaeAttention("encoder.mid_block.attentions.0.to_q.weight")).toBe("encoder.mid_block.attentions.0.to_q.weight");
    expect(renameOldVaeAttention("unet.mid_block.attentions.0.transformer_blocks.0.attn1.to_k.weight")).toBe(
      "unet.mid_block.attentions.0.transformer_blocks.0.attn1.to_k.weight",
    );
  });
});

describe("detectForeignLayout", () => {
  it("passes SD 1.x", () => {
    expect(detectForeignLayout(LDM_KEYS.map(([k]) => k))).toBeUndefined();
  });
  it("names SDXL", () => {
    const sdxl = ["model.diffusion_model.input_blocks.0.0.weight", "model.diffusion_model.label_emb.0.0.weight",
      "conditioner.embedders.0.transformer.text_model.embeddings.token_embedding.weight",
      "conditioner.embedders.1.model.transformer.resblocks.0.attn.in_proj_weight"];
    expect(detectForeignLayout(sdxl)).toMatch(/XL/);
    expect(detectForeignLayout(["model.diffusion_model.label_emb.0.0.weight"])).toMatch(/XL/);
    expect(detectForeignLayout(["add_embedding.linear_1.weight"])).toMatch(/XL/);
  });
  it("names SD 2.x", () => {
    const sd2 = ["model.diffusion_model.input_blocks.0.0.weight", "cond_stage_model.model.positional_embedding",
      "cond_stage_model.model.transformer.resblocks.0.attn.in_proj_weight", "first_stage_model.decoder.conv_in.weight"];
    expect(detectForeignLayout(sd2)).toMatch(/2\.x/);
  });
});
