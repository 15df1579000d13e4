/**
 * What a reusable subject saves (`npm run bench:runner`, part 5): a stored subject's CLIP image embedding is
 * cached per bundle, so a later job passes it as `imageEmbeds` and skips decoding the photo and the image encoder.
 * 1. tiny bundle, whole pipeline: the same one-subject job from the photo and from the cached embedding,
 *    alternating rounds so both see the same machine state; ms per job, their ratio, and the encode stage alone.
 * 2. sd15 size (`--skip-sd15` leaves it out): FastComposer's image encoder (CLIP ViT-L/14 + projection, seeded
 *    random weights, built alone into a temp folder, ~1.2 GB) on CPU: decode + preprocess and the encoder pass
 *    per subject, against a 50-step 512² job through the fused UNet's s/call from bench/attention.json.
 * The photo is a synthetic phone photo (12 MP JPEG, ~3 MB: the API stores a subject's photo as uploaded) and a
 * 1024² JPEG. Not counted on either side: the runner's S3 GET (the photo's megabytes, or the 3 KB embedding).
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import sharp from "sharp";
import * as ort from "onnxruntime-node";
import { releaseBundle } from "../../gpu-runner/src/bundle/load-bundle.ts";
import { GraphBuilder } from "../../gpu-runner/src/graph/builder.ts";
import { SD15_CONFIG } from "../../gpu-runner/src/graph/configs/sd15.ts";
import { buildImageEncoder } from "../../gpu-runner/src/graph/models/image-encoder.ts";
import { seededRandom } from "../../gpu-runner/src/graph/weights.ts";
import { createSession } from "../../gpu-runner/src/onnx/sessions.ts";
import { FastComposerPipeline } from "../../gpu-runner/src/pipeline/fastcomposer-pipeline.ts";
import { preprocessReference } from "../../gpu-runner/src/pipeline/reference-image.ts";
import { median, round } from "./stats.ts";
import { benchSpec, loadBenchPipeline } from "./tiny-pipeline.ts";

export interface SubjectPhoto {
  name: string;
  bytes: Uint8Array;
}

export interface SubjectCacheBenchRow {
  bundle: string;
  /** The subject's photo: its pixels and JPEG size. */
  photo: string;
  /** One-subject job from the photo (decode + encoder + the rest), ms, median. */
  fromPhotoMsPerJob: number;
  /** The same job from the cached embedding, ms, median (measured, or estimated where `job` says so). */
  cachedMsPerJob: number;
  /** fromPhoto / cached: how much longer the job takes without the cache. */
  ratio: number;
  /** What the cache skips per subject: decode + preprocess of the photo, ms, median. */
  decodeMs: number;
  /** ... and the image encoder's pass alone, ms, median. */
  encoderMs: number;
  /** The pipeline's encode stage (tokenize, text encoder, then the photo's decode + image encoder), ms, median. */
  fromPhotoEncodeMs: number;
  /** The same stage from the cached embedding (tokenize, text encoder, a copy into the batch), ms, median. */
  cachedEncodeMs: number;
  /** How the job times were had. */
  job: string;
}

/** A synthetic photo: a gradient, a face-sized ellipse and sensor-like noise, as JPEG q90 (`width`×`height`). */
export async function syntheticPhoto(width: number, height: number): Promise<SubjectPhoto> {
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}"><defs><linearGradient id="g" x1="0" y1="0" x2="1" y2="1"><stop offset="0" stop-color="#8ab"/><stop offset="1" stop-color="#543"/></linearGradient></defs><rect width="100%" height="100%" fill="url(#g)"/><ellipse cx="${width / 2}" cy="${height / 2.4}" rx="${width / 4}" ry="${height / 5}" fill="#d9a"/></svg>`;
  // The noise keeps the JPEG at a phone photo's size (~3 MB at 12 MP): decoding cost follows the entropy too.
  const noise = await sharp({ create: { width, height, channels: 3, background: "#808080", noise: { type: "gaussian", mean: 128, sigma: 20 } } }).png({ compressionLevel: 0 }).toBuffer();
  const bytes = await sharp(Buffer.from(svg)).composite([{ input: noise, blend: "soft-light" }]).jpeg({ quality: 90 }).toBuffer();
  return { name: `${width}x${height} JPEG ${round(bytes.length / 2 ** 20, 1)} MiB`, bytes: new Uint8Array(bytes) };
}

const f32 = (data: Float32Array, dims: number[]) => new ort.Tensor("float32", data, dims);

/** Decode + preprocess, then the encoder's pass, timed apart (what FastComposerPipeline.encodeReferences does for one subject). */
async function timeEncode(encoder: ort.InferenceSession, photo: Uint8Array, size: number): Promise<{ decodeMs: number; encoderMs: number }> {
  const t0 = performance.now();
  const pixels = await preprocessReference(photo, size, 0);
  const t1 = performance.now();
  await encoder.run({ pixel_values: f32(pixels, [1, 3, size, size]) });
  return { decodeMs: t1 - t0, encoderMs: performance.now() - t1 };
}

/** The tiny bundle's whole pipeline, one subject: from the photo vs from its cached embedding. */
export async function benchSubjectCacheTiny(bundleDir: string, photo: SubjectPhoto, options: { size: number; steps: number; rounds: number }): Promise<SubjectCacheBenchRow> {
  const { bundle, pipeline } = await loadBenchPipeline(bundleDir);
  const spec = benchSpec({ size: options.size, steps: options.steps, images: 1 });

  // What the worker caches: the pipeline's own embedding of the photo.
  const [embedding] = await pipeline.encodeReferences([photo.bytes]);
  const fromPhoto = { spec, references: [photo.bytes] };
  const cached = { spec, references: [new Uint8Array()], imageEmbeds: [embedding] };
  await pipeline.generate({ ...fromPhoto, spec: { ...spec, steps: 1 } }); // warm-up
  await pipeline.generate({ ...cached, spec: { ...spec, steps: 1 } });
  const photoMs: number[] = [];
  const photoEncodeMs: number[] = [];
  const cachedMs: number[] = [];
  const cachedEncodeMs: number[] = [];
  const decodeMs: number[] = [];
  const encoderMs: number[] = [];
  for (let r = 0; r < options.rounds; r++) {
    const photoRun = (await pipeline.generate(fromPhoto)).timings;
    photoMs.push(photoRun.totalMs);
    photoEncodeMs.push(photoRun.encodeMs);
    const { timings } = await pipeline.generate(cached);
    cachedMs.push(timings.totalMs);
    cachedEncodeMs.push(timings.encodeMs);
    const parts = await timeEncode(bundle.sessions.imageEncoder, photo.bytes, bundle.manifest.imageSize);
    decodeMs.push(parts.decodeMs);
    encoderMs.push(parts.encoderMs);
  }
  await releaseBundle(bundle);
  const p = median(photoMs);
  const c = median(cachedMs);
  return {
    bundle: bundle.manifest.name,
    photo: photo.name,
    fromPhotoMsPerJob: round(p),
    cachedMsPerJob: round(c),
    ratio: round(p / c, 3),
    decodeMs: round(median(decodeMs)),
    encoderMs: round(median(encoderMs)),
    fromPhotoEncodeMs: round(median(photoEncodeMs)),
    cachedEncodeMs: round(median(cachedEncodeMs)),
    job: `measured: ${options.size}² ${options.steps} ddim steps, 1 image, alternating rounds`,
  };
}

/** SD 1.5's image encoder alone at its real size; the rest of a 50-step 512² job from the UNet's measured s/call. */
export async function benchSubjectCacheSd15(photos: SubjectPhoto[], options: { rounds: number; threads: number }): Promise<SubjectCacheBenchRow[]> {
  const dir = mkdtempSync(join(tmpdir(), "subject-cache-bench-"));
  try {
    const file = join(dir, "image_encoder.onnx");
    const g = new GraphBuilder("imageEncoder", { weights: seededRandom(1), externalDataPath: `${file}.data` });
    buildImageEncoder(g, SD15_CONFIG);
    writeFileSync(file, g.toBytes());
    const encoder = await createSession(file, "image_encoder.onnx", { executionProvider: "cpu", intraOpThreads: options.threads });
    const size = SD15_CONFIG.vision.imageSize;
    // A 50-step PNDM job is 51 UNet calls of batch 2 (CFG) at 512²: the fused UNet's measured s/call, when known.
    const attention = fileURLToPath(new URL("../attention.json", import.meta.url));
    const unet = existsSync(attention) ? (JSON.parse(readFileSync(attention, "utf8")).rows as { variant: string; size: number; medianSecondsPerCall: number }[]).find((r) => r.variant === "fused" && r.size === 512) : undefined;
    const restMs = unet ? unet.medianSecondsPerCall * 1000 * 51 : NaN;
    await timeEncode(encoder, photos[0].bytes, size); // warm-up
    // The encoder's pass does not depend on the photo: one median over every round of every photo.
    const decodeMs = photos.map((): number[] => []);
    const encoderMs: number[] = [];
    for (let r = 0; r < options.rounds; r++) {
      for (const [i, photo] of photos.entries()) {
        const parts = await timeEncode(encoder, photo.bytes, size);
        decodeMs[i].push(parts.decodeMs);
        encoderMs.push(parts.encoderMs);
      }
    }
    const rows = photos.map((photo, i): SubjectCacheBenchRow => {
      const skipped = median(decodeMs[i]) + median(encoderMs);
      return {
        bundle: "sd15",
        photo: photo.name,
        fromPhotoMsPerJob: round(restMs + skipped, 0),
        cachedMsPerJob: round(restMs, 0),
        ratio: round((restMs + skipped) / restMs, 4),
        decodeMs: round(median(decodeMs[i])),
        encoderMs: round(median(encoderMs)),
        // Not measured at this size: the stage's text part is the same on both sides, the cache's copy is 768 floats.
        fromPhotoEncodeMs: NaN,
        cachedEncodeMs: NaN,
        job: unet ? `estimated: 51 UNet calls × ${unet.medianSecondsPerCall} s (bench/attention.json, fused 512², batch 2) + the measured decode and encoder; text encoder and VAE not counted` : "unknown: no bench/attention.json row",
      };
    });
    await encoder.release();
    return rows;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
