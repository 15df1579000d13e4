/**
 * Converter bench (`npm run bench:model`): `npm run model:build` at FULL Stable Diffusion 1.5 size, per input
 * layout: wall seconds and peak RSS, against the requirement "the converter streams; peak RSS stays under
 * 1.5× the largest single component's weights". The largest component is the UNet (859.5 M parameters); the
 * denominator is its weights as the bundle stores them (output precision): 3.44 GB for fp32 output, 1.72 GB
 * for fp16. That is what a converter that held the UNet whole would hold, so 1.5× of it separates
 * "streams" from "holds the component"; the fp16 input is smaller still, so measuring against it would
 * be stricter than the requirement says.
 *
 * How: random full-size checkpoints are written in each real layout (the parity fixtures' layouts, see
 * `/work/shared/data/parity/{fastcomposer-checkpoint,sd15-single-file}/README.md`): FastComposer's
 * `pytorch_model.bin` (torch.save zip, fp16), an SD 1.5 diffusers folder (fp16 variant files + configs +
 * tokenizer), an SD 1.5 single `.safetensors` (LDM names, fp16, like v1-5-pruned-emaonly) and `.ckpt`
 * (`{"state_dict": …}`, fp32 with the EMA copy like v1-5-pruned.ckpt: 7.7 GB, so ZIP64 with the VAE and
 * text encoder past 4 GiB). Tensor names and shapes come from the project's own graph builders (recorded, nothing kept) plus
 * what real files hold that the graphs never read (VAE encoder, quant_conv, position_ids, schedule buffers);
 * at the fixtures' sizes the lists are checked to equal the fixtures' key lists exactly, and the writers to
 * round-trip through the project's readers. Each conversion runs as a child process
 * (`node --import tsx gpu-runner/src/cli/model-build.ts …` under `/usr/bin/time -v`), sampled every 100 ms
 * to split the peak into conversion (until manifest.json is written) and verification (ORT sessions on the
 * CPU provider, one graph at a time). `folder-unverified` runs the same conversion through the API with
 * `verifySessions: false` (the CLI has no switch for it). The single-file layouts pass
 * `--from-sd15 unet,vae,text_encoder`: without it FastComposer's checkpoint supplies every component and the
 * single file is only opened, never read.
 *
 * Flags: `--layouts a,b` (a subset; names below), `--small` (the same flow at the fixtures' tiny sizes, in
 * seconds: a smoke test), `--dir <path>` (where inputs and bundles go; default a temp folder, removed after).
 * Writes bench/model-build.json (`--small`: bench/model-build.small.json). Full size needs ~15 GB of disk and
 * takes 10–20 minutes on 2 cores. GB = 10^9 bytes.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statfsSync, statSync, writeFileSync } from "node:fs";
import { cpus, tmpdir, totalmem } from "node:os";
import { dirname, join } from "node:path";
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import { checkAgainstFixtures, checkRoundTrip } from "./model-build/check.ts";
import { FULL, SMALL } from "./model-build/configs.ts";
import { writeClipFolder, writeDiffusersFolder, writeFastComposerBin, writeLdmYaml, writeSingleCkpt, writeSingleSafetensors } from "./model-build/inputs.ts";
import { measure } from "./model-build/measure.ts";
import { componentTensors, numel } from "./model-build/tensor-list.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

const { values: flags } = parseArgs({ options: { layouts: { type: "string" }, small: { type: "boolean" }, dir: { type: "string" } } });
const small = flags.small ?? false;
const config = small ? SMALL : FULL;
/** The table's unit: GB (10^9 bytes) at full size, MB for the tiny files of `--small`. */
const [UNIT, U] = small ? [1e6, "MB"] : [1e9, "GB"];

// ---- inputs: written when a layout first needs them, removed when no later layout does ----------------------

type InputKey = "fastcomposer" | "folder" | "singleSafetensors" | "singleCkpt" | "clip" | "clipTokenizer" | "ldmConfig";

interface InputDef {
  path: string;
  what: string;
  write(path: string): void;
}

const work = flags.dir ? (mkdirSync(flags.dir, { recursive: true }), flags.dir) : mkdtempSync(join(tmpdir(), "bench-model-build-"));
const INPUTS: Record<InputKey, InputDef> = {
  fastcomposer: { path: join(work, "fastcomposer", "pytorch_model.bin"), what: "FastComposer pytorch_model.bin (torch zip, fp16)", write: (p) => writeFastComposerBin(p, config, "F16") },
  folder: { path: join(work, "stable-diffusion-v1-5"), what: "SD 1.5 diffusers folder (fp16 variant)", write: (p) => writeDiffusersFolder(p, config, "F16") },
  singleSafetensors: { path: join(work, "v1-5-pruned-emaonly.fp16.safetensors"), what: "SD 1.5 single file .safetensors (LDM, fp16)", write: (p) => writeSingleSafetensors(p, config, "F16") },
  singleCkpt: { path: join(work, "v1-5-pruned.ckpt"), what: "SD 1.5 single file .ckpt (LDM + EMA copy, torch zip, fp32, ZIP64)", write: (p) => writeSingleCkpt(p, config, "F32", { ema: true }) },
  clip: { path: join(work, "clip-vit-large-patch14"), what: "CLIP config.json", write: (p) => writeClipFolder(p, config, false) },
  clipTokenizer: { path: join(work, "clip-vit-large-patch14-tokenizer"), what: "CLIP config.json + vocab.json + merges.txt", write: (p) => writeClipFolder(p, config, true) },
  ldmConfig: { path: join(work, "v1-inference.yaml"), what: "v1-inference.yaml (the small sizes)", write: (p) => writeLdmYaml(p, config) },
};

// ---- layouts ---------------------------------------------------------------------------------------------

interface Layout {
  name: string;
  description: string;
  /** fastcomposer, sd15, clip — in this order; `--small` adds ldmConfig where sd15 is a single file. */
  inputs: InputKey[];
  precision: "fp32" | "fp16";
  fromSd15?: string;
  verify: boolean;
}

const LAYOUTS: Layout[] = [
  { name: "folder", description: "--fastcomposer bin --sd15 folder --clip config", inputs: ["fastcomposer", "folder", "clip"], precision: "fp32", verify: true },
  { name: "folder-fp16", description: "the same, --precision fp16", inputs: ["fastcomposer", "folder", "clip"], precision: "fp16", verify: true },
  { name: "folder-unverified", description: "folder, through the API with verifySessions: false", inputs: ["fastcomposer", "folder", "clip"], precision: "fp32", verify: false },
  { name: "safetensors", description: "--sd15 single .safetensors (fp16) --from-sd15 unet,vae,text_encoder", inputs: ["fastcomposer", "singleSafetensors", "clipTokenizer"], precision: "fp32", fromSd15: "unet,vae,text_encoder", verify: true },
  { name: "ckpt", description: "--sd15 single .ckpt (fp32 + EMA, ZIP64) --from-sd15 unet,vae,text_encoder", inputs: ["fastcomposer", "singleCkpt", "clipTokenizer"], precision: "fp32", fromSd15: "unet,vae,text_encoder", verify: true },
];

const wanted = flags.layouts ? flags.layouts.split(",").map((s) => s.trim()) : LAYOUTS.map((l) => l.name);
const unknown = wanted.filter((w) => !LAYOUTS.some((l) => l.name === w));
if (unknown.length) {
  console.error(`bench:model: unknown layout(s) ${unknown.join(", ")}; known: ${LAYOUTS.map((l) => l.name).join(", ")}`);
  process.exit(2);
}
// a single file carries no sizes: at full size the converter's SD 1.5 defaults apply, as for a real download
const layouts = LAYOUTS.filter((l) => wanted.includes(l.name)).map((l) => (small && l.inputs[1].startsWith("single") ? { ...l, inputs: [...l.inputs, "ldmConfig" as const] } : l));

// ---- helpers ---------------------------------------------------------------------------------------------

function sizeOf(path: string): number {
  if (!existsSync(path)) return 0;
  const s = statSync(path);
  if (!s.isDirectory()) return s.size;
  return readdirSync(path).reduce((sum, name) => sum + sizeOf(join(path, name)), 0);
}

const gb = (bytes: number | null) => (bytes === null ? null : Math.round((bytes / UNIT) * 100) / 100);
const round = (x: number, digits = 2) => Math.round(x * 10 ** digits) / 10 ** digits;

// ---- run -------------------------------------------------------------------------------------------------

checkRoundTrip();
const fixturesChecked = checkAgainstFixtures();
console.log(`self-checks: writers round-trip through the project's readers; key lists ${fixturesChecked ? "equal the parity fixtures'" : "NOT checked (no fixtures)"}`);

const unetParams = componentTensors(config, "F32").get("unet")!.reduce((sum, t) => sum + numel(t.shape), 0);
const unetBytes = { fp32: unetParams * 4, fp16: unetParams * 2 };
console.log(`${small ? "small (fixture) sizes" : "full SD 1.5 sizes"}: UNet ${(unetParams / 1e6).toFixed(1)} M parameters = ${gb(unetBytes.fp32)} ${U} fp32 / ${gb(unetBytes.fp16)} ${U} fp16; work folder ${work}`);
try {
  const free = statfsSync(work);
  console.log(`disk free there: ${round((free.bavail * free.bsize) / 1e9, 1)} GB; RAM ${round(totalmem() / 1e9, 1)} GB; ${cpus().length} cores`);
} catch {
  // statfs is informational only
}

interface Row {
  layout: string;
  description: string;
  precision: "fp32" | "fp16";
  verified: boolean;
  ok: boolean;
  inputBytes: number;
  bundleBytes: number;
  seconds: number;
  peakRssBytes: number | null;
  /** Sampled: until manifest.json existed (conversion), and after (verification). */
  convertPeakRssBytes: number;
  verifyPeakRssBytes: number | null;
  verifyStartedAtSeconds: number | null;
  peakRssAnonBytes: number;
  peakRssFileBytes: number;
  denominatorBytes: number;
  ratio: number | null;
  convertRatio: number;
  command: string;
  error?: string;
}

const file = fileURLToPath(new URL(small ? "model-build.small.json" : "model-build.json", import.meta.url));
const inputsWritten: { input: string; bytes: number; seconds: number }[] = [];
/** Rewritten after every layout, so a run cut short still leaves what it measured. */
function saveReport(): void {
  const report = {
    date: new Date().toISOString(),
    machine: { cpus: cpus().length, model: cpus()[0]?.model, memoryBytes: totalmem(), node: process.version },
    size: small ? "small (parity fixtures)" : "full SD 1.5",
    unit: `bytes (${U} in the table = ${UNIT} bytes)`,
    requirement: "peak RSS < 1.5 × the largest component's weights (the UNet, in the output precision)",
    unet: { parameters: unetParams, fp32Bytes: unetBytes.fp32, fp16Bytes: unetBytes.fp16 },
    fixturesChecked,
    inputs: inputsWritten,
    rows,
  };
  writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
}

const written = new Map<InputKey, number>();
const rows: Row[] = [];
try {
  for (const [index, layout] of layouts.entries()) {
    for (const key of layout.inputs) {
      if (written.has(key)) continue;
      const started = performance.now();
      mkdirSync(dirname(INPUTS[key].path), { recursive: true });
      INPUTS[key].write(INPUTS[key].path);
      written.set(key, sizeOf(INPUTS[key].path));
      inputsWritten.push({ input: INPUTS[key].what, bytes: written.get(key)!, seconds: round((performance.now() - started) / 1000, 1) });
      console.log(`wrote ${INPUTS[key].what}: ${gb(written.get(key)!)} ${U} in ${round((performance.now() - started) / 1000, 1)} s`);
    }
    const [fc, sd15, clip, sd15Config] = layout.inputs.map((k) => INPUTS[k].path);
    const out = join(work, `bundle-${layout.name}`);
    const cliArgs = ["--fastcomposer", fc, "--sd15", sd15, "--clip", clip, "--out", out, "--precision", layout.precision, ...(layout.fromSd15 ? ["--from-sd15", layout.fromSd15] : []), ...(sd15Config ? ["--sd15-config", sd15Config] : [])];
    const args = layout.verify
      ? ["--import", "tsx", "gpu-runner/src/cli/model-build.ts", ...cliArgs]
      : ["--import", "tsx", "bench/model-build/convert-without-verification.ts", JSON.stringify({ fastcomposer: fc, sd15, clip, out, precision: layout.precision, ...(sd15Config ? { sd15Config } : {}), ...(layout.fromSd15 ? { fromSd15: layout.fromSd15.split(",").map((c) => (c === "text_encoder" ? "textEncoder" : c)) } : {}) })];
    console.log(`\n[${layout.name}] ${layout.description}`);
    const m = await measure(process.execPath, args, { cwd: ROOT, phaseFile: (pid) => `${out}.partial-${pid}/manifest.json` });
    const ok = m.code === 0;
    const denominator = unetBytes[layout.precision];
    const row: Row = {
      layout: layout.name,
      description: layout.description,
      precision: layout.precision,
      verified: layout.verify,
      ok,
      inputBytes: layout.inputs.reduce((sum, k) => sum + written.get(k)!, 0),
      bundleBytes: ok ? sizeOf(out) : 0,
      seconds: round(m.seconds, 1),
      peakRssBytes: m.peakRss,
      convertPeakRssBytes: m.phases.before,
      verifyPeakRssBytes: m.phases.after,
      verifyStartedAtSeconds: m.phases.switchedAt === null ? null : round(m.phases.switchedAt, 1),
      peakRssAnonBytes: m.sampled.anon,
      peakRssFileBytes: m.sampled.file,
      denominatorBytes: denominator,
      ratio: m.peakRss === null ? null : round(m.peakRss / denominator),
      convertRatio: round(m.phases.before / denominator),
      command: `node ${args.map((a) => (/[\s"{]/.test(a) ? `'${a}'` : a)).join(" ")}`,
      ...(ok ? {} : { error: m.tail }),
    };
    rows.push(row);
    saveReport();
    console.log(
      ok
        ? `  ${row.seconds} s, peak RSS ${gb(row.peakRssBytes)} ${U} (conversion ${gb(row.convertPeakRssBytes)} ${U}, verification ${row.verifyPeakRssBytes === null ? "—" : `${gb(row.verifyPeakRssBytes)} ${U}`}), bundle ${gb(row.bundleBytes)} ${U}`
        : `  FAILED (exit ${m.code}):\n${m.tail}`,
    );
    rmSync(out, { recursive: true, force: true });
    for (const leftover of readdirSync(work).filter((n) => n.startsWith(`bundle-${layout.name}.`))) rmSync(join(work, leftover), { recursive: true, force: true });
    // inputs no later layout needs
    const later = new Set(layouts.slice(index + 1).flatMap((l) => l.inputs));
    for (const key of [...written.keys()]) if (!later.has(key)) rmSync(INPUTS[key].path, { recursive: true, force: true });
  }
} finally {
  // a crash leaves no multi-GB files behind (unless --dir asked to keep them)
  if (!flags.dir) rmSync(work, { recursive: true, force: true });
}

console.log(`\nmodel:build at ${small ? "the fixtures' tiny" : "full SD 1.5"} size; ratio = peak RSS ÷ the UNet's weights in the output precision (fp32 ${gb(unetBytes.fp32)} ${U}, fp16 ${gb(unetBytes.fp16)} ${U}); requirement: < 1.5`);
console.table(
  rows.map((r) => ({
    layout: r.layout,
    out: r.precision,
    [`input ${U}`]: gb(r.inputBytes),
    [`bundle ${U}`]: gb(r.bundleBytes),
    seconds: r.seconds,
    [`peak RSS ${U}`]: gb(r.peakRssBytes),
    "÷ UNet": r.ratio,
    [`conversion peak ${U}`]: gb(r.convertPeakRssBytes),
    "conv. ÷ UNet": r.convertRatio,
    [`verification peak ${U}`]: gb(r.verifyPeakRssBytes),
    ok: r.ok ? "yes" : "FAILED",
  })),
);

saveReport();
console.log(`wrote ${file.slice(ROOT.length)}`);
if (rows.some((r) => !r.ok)) process.exitCode = 1;
