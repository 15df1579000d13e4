import { relative } from "node:path";
import { parseArgs } from "node:util";
import { pathToFileURL } from "node:url";
import { createAwsClients, destroyAwsClients } from "@troupe/shared/aws/clients";
import { loadConfig, ResourceConfigSchema } from "@troupe/shared/config";
import { buildModel, SD15_COMPONENT_NAMES, type BuildReport } from "../model-build/build-model.ts";
import { parseS3Url, publishBundle } from "../model-build/publish.ts";

const USAGE = `usage: npm run model:build -- --fastcomposer <pytorch_model.bin> --sd15 <diffusers folder | single file> --out <dir>
         [--clip <clip-vit-large-patch14 folder>] [--sd15-config <v1-inference.yaml>] [--precision fp32|fp16]
         [--publish s3://bucket/prefix/] [--vae <file | folder>] [--from-sd15 unet,vae,text_encoder] [--name NAME]

  --fastcomposer  FastComposer's checkpoint (mit-han-lab/fastcomposer pytorch_model.bin): wins for every component it holds
  --sd15          Stable Diffusion 1.5: a diffusers folder (model_index.json, unet/, vae/, text_encoder/, tokenizer/,
                  scheduler/) or one single file in the CompVis layout (.safetensors or .ckpt)
  --out           the bundle folder (written beside it as <out>.partial-<pid>, renamed into place when complete)
  --clip          openai/clip-vit-large-patch14 folder: config.json for the image encoder's sizes; its vocab.json and
                  merges.txt are the tokenizer when --sd15 has no tokenizer/ folder
  --sd15-config   CompVis' v1-inference.yaml: sizes for a single file (SD 1.5's published values otherwise)
  --precision     weight storage: fp32 (default) or fp16 (half the size; the CPU provider computes in float32)
  --publish       upload the bundle there after building (files first, manifest.json last)
  --vae           a VAE to use instead (diffusers or LDM names, old or new attention names)
  --from-sd15     components to take from --sd15 although the checkpoint holds them
  --name          the manifest's name [fastcomposer-sd15]`;

const MiB = 1024 * 1024;
const rel = (file: string) => relative(process.cwd(), file) || file;

function printReport(r: BuildReport): void {
  for (const c of r.components) {
    console.log(`${c.component}: ${c.tensors} tensors from the ${c.source}`);
    for (const f of c.from) console.log(`  ${f.count.toString().padStart(5)}  ${rel(f.file)}`);
    for (const i of c.ignored) console.log(`  ${i.count.toString().padStart(5)}  ignored in ${rel(i.file)}: ${i.reason}`);
  }
  for (const i of r.unused) console.log(`not used: ${i.count} in ${rel(i.file)}: ${i.reason}`);
  const { unet, vae, text, vision } = r.config;
  console.log(`sizes: hidden ${r.config.hiddenSize}, vocabulary ${r.manifest.tokens.vocabSize}`);
  console.log(`  unet   (${r.origins.unet}): channels [${unet.blockOutChannels}], ${unet.downBlockTypes.join("/")}, ${unet.layersPerBlock} resnets, ${unet.heads} heads, ${unet.normGroups} groups`);
  console.log(`  vae    (${r.origins.vae}): channels [${vae.blockOutChannels}], ${vae.layersPerBlock} resnets, ${vae.latentChannels} latent channels, scaling ${vae.scalingFactor}`);
  console.log(`  text   (${r.origins.text}): width ${text.dim}, ${text.layers} layers, ${text.heads} heads, MLP ${text.intermediate}, ${text.maxLength} tokens`);
  console.log(`  vision (${r.origins.vision}): width ${vision.dim}, ${vision.layers} layers, ${vision.heads} heads, MLP ${vision.intermediate}, ${vision.imageSize}px / patch ${vision.patchSize}, projection ${vision.projectionDim}`);
  const safety = r.config.safetyChecker?.vision;
  if (safety) console.log(`  safety (${r.origins.safetyChecker}): width ${safety.dim}, ${safety.layers} layers, ${safety.heads} heads, ${safety.imageSize}px / patch ${safety.patchSize}, projection ${safety.projectionDim}`);
  else console.log("  safety: NONE — the SD 1.5 input has no safety_checker/; jobs of keys whose safety policy is block (the default) or flag will fail with safety_unavailable");
  console.log(JSON.stringify({ bundle: r.out, name: r.manifest.name, version: r.manifest.version, precision: r.manifest.precision, files: r.manifest.files.length, mib: Math.round(r.bytes / MiB), seconds: Math.round(r.seconds * 10) / 10 }));
}

async function main(): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        fastcomposer: { type: "string" },
        sd15: { type: "string" },
        out: { type: "string" },
        clip: { type: "string" },
        "sd15-config": { type: "string" },
        precision: { type: "string", default: "fp32" },
        publish: { type: "string" },
        vae: { type: "string" },
        "from-sd15": { type: "string" },
        name: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    }));
  } catch (e) {
    console.error(`model:build: ${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const problems = [
    !values.fastcomposer && "--fastcomposer is required",
    !values.sd15 && "--sd15 is required",
    !values.out && "--out is required",
    values.precision !== "fp32" && values.precision !== "fp16" && `--precision must be fp32 or fp16, got ${values.precision}`,
  ].filter(Boolean);
  const fromSd15 = (values["from-sd15"] ?? "").split(",").filter(Boolean);
  const badComponent = fromSd15.find((c) => !(c in SD15_COMPONENT_NAMES));
  if (badComponent) problems.push(`--from-sd15 takes ${Object.keys(SD15_COMPONENT_NAMES).join(", ")}; got ${badComponent}`);
  if (values.publish) {
    try {
      parseS3Url(values.publish);
    } catch (e) {
      problems.push((e as Error).message);
    }
  }
  if (problems.length) {
    console.error(`model:build: ${problems.join("; ")}\n${USAGE}`);
    return 2;
  }
  const report = await buildModel({
    fastcomposer: values.fastcomposer!,
    sd15: values.sd15!,
    out: values.out!,
    clip: values.clip,
    sd15Config: values["sd15-config"],
    vae: values.vae,
    fromSd15: fromSd15.map((c) => SD15_COMPONENT_NAMES[c]),
    precision: values.precision as "fp32" | "fp16",
    name: values.name,
  });
  printReport(report);
  if (values.publish) {
    const clients = createAwsClients(loadConfig(ResourceConfigSchema));
    try {
      const uploaded = await publishBundle(clients.s3, report.out, report.manifest, values.publish);
      console.log(`published ${uploaded.length} files to ${values.publish} (manifest.json last)`);
    } finally {
      destroyAwsClients(clients);
    }
  }
  return 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().then(
    (code) => process.exit(code),
    (e: Error) => {
      console.error(`model:build: ${e.message}`);
      process.exit(1);
    },
  );
}
