import { spawnSync } from "node:child_process";
import { copyFileSync, cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { f32Bytes, safetensorsBytes, stateDictPickle, torchZip } from "../checkpoints/test-support.ts";
import { buildModel, type BuildOptions } from "./build-model.ts";
import { PARITY, writeClipTokenizer } from "./test-support.ts";

/** Each bad input fails with its own message naming the file and the tensor, and leaves no bundle behind. */
const FC = join(PARITY, "fastcomposer-checkpoint");
const SF = join(PARITY, "sd15-single-file");
const CHECKPOINT = join(FC, "fastcomposer", "pytorch_model.bin");
const ROOT = fileURLToPath(new URL("../../../", import.meta.url));

const work = mkdtempSync(join(tmpdir(), "bad-inputs-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const clip = writeClipTokenizer(join(work, "clip"), 1000);
copyFileSync(join(FC, "clip-vit-large-patch14", "config.json"), join(clip, "config.json"));

const file = (name: string, data: Uint8Array) => {
  writeFileSync(join(work, name), data);
  return join(work, name);
};
const truncated = (from: string, name: string, fraction: number) => {
  const bytes = readFileSync(from);
  return file(name, bytes.subarray(0, Math.floor(bytes.length * fraction)));
};

/** A torch.save zip whose pickle calls `module.name("touch <marker>")` when unpickled by Python. */
function maliciousCheckpoint(module: string, name: string, marker: string): string {
  const pickle = Buffer.concat([Buffer.from([0x80, 0x02]), Buffer.from(`c${module}\n${name}\n`, "latin1"), Buffer.from([0x58]), u32le(`touch ${marker}`.length), Buffer.from(`touch ${marker}`), Buffer.from([0x85, 0x52, 0x2e])]);
  return file(`${module}-${name}.bin`, torchZip("archive", pickle, {}));
}
const u32le = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
};

let counter = 0;
/** Runs a build expected to fail; returns the message after checking nothing was left where the bundle would go. */
async function failure(options: Partial<BuildOptions>): Promise<string> {
  const out = join(work, "bundles", `out-${++counter}`);
  const error = await buildModel({ fastcomposer: CHECKPOINT, sd15: join(FC, "stable-diffusion-v1-5"), clip, out, ...options }).then(
    () => undefined,
    (e: Error) => e,
  );
  expect(error, "the build should fail").toBeInstanceOf(Error);
  expect(existsSync(out)).toBe(false);
  if (existsSync(join(work, "bundles"))) expect(readdirSync(join(work, "bundles")).filter((n) => n.startsWith(`out-${counter}`))).toEqual([]);
  return error!.message;
}

describe("model:build refuses bad inputs", () => {
  it("a truncated checkpoint zip", async () => {
    const half = truncated(CHECKPOINT, "half.bin", 0.5);
    expect(await failure({ fastcomposer: half })).toMatch(new RegExp(`${half}.*(truncated|not a zip)`));
  });

  it("a truncated safetensors single file", async () => {
    const half = truncated(join(SF, "model.safetensors"), "half.safetensors", 0.5);
    expect(await failure({ sd15: half, sd15Config: join(SF, "v1-inference.yaml") })).toMatch(new RegExp(`${half}: tensor \\S+ ends at byte \\d+ .*truncated`));
  });

  it("a pickle with a foreign global, without running it", async () => {
    for (const [module, name] of [["os", "system"], ["builtins", "eval"]]) {
      const marker = join(work, `pwned-${name}`);
      const bad = maliciousCheckpoint(module, name, marker);
      expect(await failure({ fastcomposer: bad })).toMatch(new RegExp(`${bad}.*${module}.${name}`));
      expect(existsSync(marker)).toBe(false);
    }
  });

  it("a weight stored as integers", async () => {
    const vae = file("int-vae.safetensors", safetensorsBytes({ "post_quant_conv.weight": { dtype: "I32", shape: [4, 4, 1, 1], bytes: new Uint8Array(64) } }));
    expect(await failure({ vae })).toMatch(/post_quant_conv\.weight has dtype I32; a weight must be F32, F16 or BF16/);
  });

  it("an SDXL single file", async () => {
    const sdxl = file("sdxl.safetensors", safetensorsBytes({ "conditioner.embedders.0.transformer.text_model.final_layer_norm.weight": { dtype: "F32", shape: [2], bytes: f32Bytes([1, 1]) } }));
    expect(await failure({ sd15: sdxl })).toMatch(new RegExp(`${sdxl}: looks like Stable Diffusion XL`));
  });

  it("SD 2.x sizes: per-block heads in unet/config.json", async () => {
    const folder = join(work, "sd2");
    cpSync(join(FC, "stable-diffusion-v1-5"), folder, { recursive: true });
    const config = JSON.parse(readFileSync(join(folder, "unet", "config.json"), "utf8"));
    writeFileSync(join(folder, "unet", "config.json"), JSON.stringify({ ...config, attention_head_dim: [5, 10, 20, 20], use_linear_projection: true }));
    expect(await failure({ sd15: folder })).toMatch(/unet\/config\.json: use_linear_projection is an SD 2\.x UNet/);
  });

  it("a tensor whose shape the config does not expect, naming both shapes", async () => {
    // a yaml that says 64 base channels for a UNet that has 32
    const yaml = file("wrong.yaml", Buffer.from(readFileSync(join(SF, "v1-inference.yaml"), "utf8").replace("model_channels: 32", "model_channels: 64")));
    const message = await failure({ sd15: join(SF, "model.safetensors"), sd15Config: yaml, fromSd15: ["unet"] });
    expect(message).toBe(`unet: model.diffusion_model.time_embed.0.weight in ${join(SF, "model.safetensors")} has shape [128, 32], the graph needs time_embedding.linear_1.weight [256, 64]`);
  });

  it("a checkpoint without the image encoder: a missing component", async () => {
    const postfuseOnly = join(FC, "dtype-variants", "postfuse_module.float32.bin");
    expect(await failure({ fastcomposer: postfuseOnly, sd15: join(SF, "model.safetensors"), sd15Config: join(SF, "v1-inference.yaml") })).toMatch(/missing component imageEncoder/);
  });

  it("a tokenizer that does not fit the text encoder", async () => {
    const small = writeClipTokenizer(join(work, "clip-999"), 999);
    copyFileSync(join(FC, "clip-vit-large-patch14", "config.json"), join(small, "config.json"));
    expect(await failure({ clip: small })).toMatch(/tokenizer: .*vocab\.json has 999 entries; the text encoder's token embedding has 1000 rows/);
  });

  it("an --out folder that is not a bundle, which it leaves untouched", async () => {
    const notes = join(work, "notes");
    cpSync(clip, notes, { recursive: true });
    const error = await buildModel({ fastcomposer: CHECKPOINT, sd15: join(FC, "stable-diffusion-v1-5"), clip, out: notes }).catch((e: Error) => e);
    expect((error as Error).message).toBe(`--out ${notes} exists and is not a bundle (no manifest.json); choose a new folder or remove it`);
    expect(readdirSync(notes).sort()).toEqual(["config.json", "merges.txt", "vocab.json"]);
  });

  it("a --vae file without VAE weights", async () => {
    const vae = file("loss-only.safetensors", safetensorsBytes({ "loss.logvar": { dtype: "F32", shape: [1], bytes: f32Bytes([0]) } }));
    expect(await failure({ vae })).toBe(`--vae ${vae}: holds no VAE weights`);
  });

  it("the command exits 1 with the message, 2 on bad usage", () => {
    const run = (...args: string[]) => spawnSync(process.execPath, ["--import", "tsx", "gpu-runner/src/cli/model-build.ts", ...args], { cwd: ROOT, encoding: "utf8" });
    const bad = maliciousCheckpoint("posix", "system", join(work, "pwned-cli"));
    const out = join(work, "cli-out");
    const failed = run("--fastcomposer", bad, "--sd15", join(FC, "stable-diffusion-v1-5"), "--clip", clip, "--out", out);
    expect(failed.status).toBe(1);
    expect(failed.stderr).toMatch(/^model:build: .*posix\.system/m);
    expect(existsSync(out)).toBe(false);
    const usage = run("--sd15", "x");
    expect(usage.status).toBe(2);
    expect(usage.stderr).toMatch(/--fastcomposer is required; --out is required/);
  });
});
