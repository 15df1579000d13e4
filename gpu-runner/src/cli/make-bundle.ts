import { join } from "node:path";
import { parseArgs } from "node:util";
import { pathToFileURL } from "node:url";
import { MODELS_DIR, seededVersion, TINY_SEED } from "../bundle/tiny-bundle.ts";
import { GRAPH_REVISION, writeBundle } from "../bundle/write-bundle.ts";
import { CONFIGS } from "../graph/configs/index.ts";
import { safetensorsSource, seededRandom, type WeightSource } from "../graph/weights.ts";

export { ensureTinyBundle } from "../bundle/tiny-bundle.ts";

const USAGE = `usage: tsx gpu-runner/src/cli/make-bundle.ts --config tiny|sd15 [--out DIR] [--seed N]
         [--weights a.safetensors,b.safetensors] [--weight-prefixes p1.,p2.] [--merges FILE] [--precision fp32|fp16]

  --config           graph sizes: ${Object.keys(CONFIGS).join(", ")}
  --out              bundle folder [models/<config> under the repository root]
  --seed             seeded-random weights (ignored with --weights) [${TINY_SEED}]
  --weights          safetensors files holding every tensor by diffusers/transformers name
  --weight-prefixes  prefixes stripped from the keys that have them (e.g. "postfuse_module.")
  --merges           the CLIP BPE merges file to copy in (required for sd15)
  --precision        weight storage, fp32 or fp16 [fp32]

For real weights use \`npm run model:build\` (FastComposer's checkpoint + SD 1.5, any layout).`;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      config: { type: "string" },
      out: { type: "string" },
      seed: { type: "string", default: String(TINY_SEED) },
      weights: { type: "string" },
      "weight-prefixes": { type: "string" },
      merges: { type: "string" },
      precision: { type: "string", default: "fp32" },
      help: { type: "boolean", short: "h" },
    },
  });
  const config = values.config ? CONFIGS[values.config] : undefined;
  if (values.help || !config) {
    console.error(USAGE);
    process.exit(values.help ? 0 : 2);
  }
  if (values.precision !== "fp32" && values.precision !== "fp16") throw new Error(`--precision must be fp32 or fp16, got ${values.precision}`);
  const seed = Number(values.seed);
  if (!Number.isInteger(seed) || seed < 0) throw new Error(`--seed must be a non-negative integer, got ${values.seed}`);
  const split = (s: string | undefined) => (s ? s.split(",").filter(Boolean) : []);
  const files = split(values.weights);
  const file = files.length > 0 ? safetensorsSource(files, { prefixes: split(values["weight-prefixes"]) }) : undefined;
  const source: WeightSource = file ?? seededRandom(seed);
  const out = values.out ?? join(MODELS_DIR, config.name);
  // weight files without the safety checker's tensors make a bundle without one (said here and in the manifest)
  const withChecker = file && !file.has("concept_embeds") ? { ...config, safetyChecker: undefined } : config;
  if (withChecker !== config) console.error("make-bundle: the weights hold no safety checker (concept_embeds): the bundle will have none");

  const started = performance.now();
  const manifest = await writeBundle(withChecker, out, source, {
    merges: values.merges,
    precision: values.precision,
    // the same version ensureTinyBundle expects, so `npm run model:tiny` and the tests share one bundle
    version: `${files.length > 0 ? `${GRAPH_REVISION}-safetensors` : seededVersion(seed)}${values.precision === "fp16" ? "-fp16" : ""}`,
  });
  const bytes = manifest.files.reduce((sum, f) => sum + f.bytes, 0);
  console.log(JSON.stringify({ bundle: out, name: manifest.name, version: manifest.version, files: manifest.files.length, bytes, ms: Math.round(performance.now() - started) }));
}

// Run only as a script, so tests can import ensureTinyBundle from here.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((e: Error) => {
    console.error(`make-bundle: ${e.message}`);
    process.exit(1);
  });
}
