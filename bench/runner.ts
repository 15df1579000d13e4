/**
 * Runner bench (`npm run bench:runner`), everything measured side by side in one run:
 * 1. the pipeline's time per denoising step against the bare UNet `session.run` on the same inputs
 *    (the ratio is our overhead), per-stage times and peak RSS, for the tiny bundle and for the
 *    sd15-sized bundle at 256×256 (seeded random weights: same compute as the real model);
 * 2. the local stack end to end: job time minus inference time (our orchestration), and jobs per
 *    minute with 1 and 2 runners.
 * 3. attention: the sd15-sized UNet with explicit vs fused attention at 512² (s/call, peak RSS, each in
 *    its own process) and the fused one at 1024² (bench/runner/attention-bench.ts).
 * 4. the safety check: its ms per output image and its share of the job, tiny (whole pipeline, policy flag) and
 *    SD 1.5's checker at its real size on a 512² image (bench/runner/safety-bench.ts).
 * 5. a reusable subject: a job from its cached CLIP image embedding vs the same job from the photo (ms per job,
 *    ratio, decode and encoder alone), tiny (whole pipeline) and SD 1.5's image encoder alone on CPU
 *    (bench/runner/subject-cache-bench.ts).
 * Writes bench/runner.json. `--skip-sd15` leaves out the large bundle (it takes ~2 min to build
 * and ~4 GB of disk under models/sd15) and the sd15-size parts of 4 and 5; `--skip-attention` leaves out part 3
 * (two ~3.4 GB graphs in a temp folder, a few minutes). `--only pipelines,stacks,safety,subjects,attention` runs
 * just those parts and replaces only their sections of an existing bench/runner.json.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { ensureBundle, ensureTinyBundle, MODELS_DIR } from "../gpu-runner/src/bundle/tiny-bundle.ts";
import { SD15_CONFIG } from "../gpu-runner/src/graph/configs/sd15.ts";
import { benchAttention, printAttentionBench, type AttentionBenchResult } from "./runner/attention-bench.ts";
import { benchPipeline, type PipelineBenchResult } from "./runner/pipeline-bench.ts";
import { benchSafetySd15, benchSafetyTiny, type SafetyBenchRow } from "./runner/safety-bench.ts";
import { benchStack, type StackBenchResult } from "./runner/stack-bench.ts";
import { benchSubjectCacheSd15, benchSubjectCacheTiny, syntheticPhoto, type SubjectCacheBenchRow } from "./runner/subject-cache-bench.ts";

const CLIP_MERGES = fileURLToPath(new URL("../../shared/data/clip/bpe_simple_vocab_16e6.txt.gz", import.meta.url));
const skipSd15 = process.argv.includes("--skip-sd15");
const skipAttention = process.argv.includes("--skip-attention");
const PARTS = ["pipelines", "stacks", "safety", "subjects", "attention"] as const;
type Part = (typeof PARTS)[number];
const onlyArg = process.argv.find((a, i) => process.argv[i - 1] === "--only") ?? process.argv.find((a) => a.startsWith("--only="))?.slice("--only=".length);
const only = onlyArg?.split(",");
const unknownPart = only?.find((p) => !(PARTS as readonly string[]).includes(p));
if ((process.argv.includes("--only") && !onlyArg) || unknownPart !== undefined) {
  console.error(`--only takes a comma-separated list of ${PARTS.join(", ")}${unknownPart ? ` (not ${JSON.stringify(unknownPart)})` : ""}`);
  process.exit(2);
}
const want = (part: Part) => !only || only.includes(part);

/** models/sd15, the bundle `make-bundle --config sd15` writes: rebuilt only when the graphs change (~2 min). */
async function ensureSd15(): Promise<string> {
  process.stdout.write("the sd15-sized bundle with random weights (built once per graph revision, ~2 min)…\n");
  return ensureBundle(SD15_CONFIG, join(MODELS_DIR, "sd15"), { merges: CLIP_MERGES });
}

const pipelines: PipelineBenchResult[] = [];
if (want("pipelines")) {
  pipelines.push(await benchPipeline(await ensureTinyBundle(), { size: 128, steps: 20, rounds: 5, threads: 1, numImages: { images: 4, steps: 20, rounds: 5 } }));
  if (!skipSd15) pipelines.push(await benchPipeline(await ensureSd15(), { size: 256, steps: 2, rounds: 2, threads: cpus().length }));
}

const stacks: StackBenchResult[] = [];
if (want("stacks")) for (const runners of [1, 2]) stacks.push(await benchStack(runners, { sequential: 8, burst: 24 }));

if (want("pipelines")) {
  console.log("\nPipeline: our denoising loop vs the bare UNet session.run (same inputs, medians)");
  console.table(pipelines.map((p) => ({ bundle: p.bundle, size: p.size, "loop ms/step": p.loopMsPerStep, "bare ms/step": p.bareMsPerStep, "loop/bare": p.overheadRatio, "peak RSS MB": p.peakRssMb })));
  console.log("Stages (ms, last round)");
  console.table(Object.fromEntries(pipelines.map((p) => [`${p.bundle} ${p.size}`, p.stagesMs])));
  console.log(`Denoising time / its own UNet session.run time (same run): ${pipelines.map((p) => `${p.bundle} ×${p.inRunRatio}`).join(", ")}`);
  console.log("numImages 4: one batch-2N UNet call per step vs one image at a time (s/image, medians)");
  console.table(pipelines.filter((p) => p.numImages).map(({ numImages: n, ...p }) => ({ bundle: p.bundle, size: p.size, steps: n!.steps, "batched s/img": n!.batchedSecondsPerImage, "looped s/img": n!.loopedSecondsPerImage, "batched denoise s/img": n!.batchedDenoiseSecondsPerImage, "looped denoise s/img": n!.loopedDenoiseSecondsPerImage, speedup: n!.speedup })));
}
if (want("stacks")) {
  console.log("Local stack, tiny bundle, 10 steps at 128×128");
  console.table(stacks.map((s) => ({ runners: s.runners, "end-to-end ms": s.endToEndMs, "inference ms": s.inferenceMs, "orchestration ms": s.orchestrationMs, "jobs/min": s.jobsPerMinute })));
}

const safety: SafetyBenchRow[] = [];
if (want("safety")) {
  for (const images of [1, 4]) safety.push(await benchSafetyTiny(await ensureTinyBundle(), { size: 128, steps: 20, images, rounds: 5 }));
  if (!skipSd15) safety.push(await benchSafetySd15({ size: 512, rounds: 3, threads: cpus().length }));
  console.log("Safety check per output image (policy block / flag): ms, and its share of the rest of the job");
  console.table(safety);
}

const subjects: SubjectCacheBenchRow[] = [];
if (want("subjects")) {
  const photos = [await syntheticPhoto(3024, 4032), await syntheticPhoto(1024, 1024)];
  for (const photo of photos) subjects.push(await benchSubjectCacheTiny(await ensureTinyBundle(), photo, { size: 128, steps: 20, rounds: 9 }));
  if (!skipSd15) subjects.push(...(await benchSubjectCacheSd15(photos, { rounds: 3, threads: cpus().length })));
  console.log("A reusable subject: one-subject job from its cached embedding vs from the photo (ms, medians; sd15 job estimated)");
  console.table(subjects.map((r) => ({ bundle: r.bundle, photo: r.photo, "from photo ms/job": r.fromPhotoMsPerJob, "cached ms/job": r.cachedMsPerJob, "photo/cached": r.ratio, "decode ms": r.decodeMs, "encoder ms": r.encoderMs, "encode stage ms (photo / cached)": Number.isNaN(r.cachedEncodeMs) ? "n/a" : `${r.fromPhotoEncodeMs} / ${r.cachedEncodeMs}` })));
}

const attention: AttentionBenchResult | undefined = skipAttention || !want("attention") ? undefined : await benchAttention({ size: 512, rounds: 2, calls: 2, largeSize: 1024 });
if (attention) printAttentionBench(attention);

mkdirSync(fileURLToPath(new URL(".", import.meta.url)), { recursive: true });
const reportFile = fileURLToPath(new URL("runner.json", import.meta.url));
// With --only, the parts not run keep their last figures (each section has its own date when partial).
const previous: Record<string, unknown> = only && existsSync(reportFile) ? JSON.parse(readFileSync(reportFile, "utf8")) : {};
const measured: Record<Part, unknown> = { pipelines, stacks, safety, subjects, attention };
const sections = Object.fromEntries(PARTS.map((p) => [p, want(p) ? measured[p] : previous[p]]));
const dates = only ? { ...(previous.dates as Record<string, string> | undefined), ...Object.fromEntries(only.map((p) => [p, new Date().toISOString()])) } : undefined;
const report = { date: new Date().toISOString(), ...(dates ? { dates } : {}), machine: { cpus: cpus().length, model: cpus()[0]?.model, node: process.version }, ...sections };
writeFileSync(reportFile, `${JSON.stringify(report, null, 2)}\n`);
console.log("wrote bench/runner.json");
