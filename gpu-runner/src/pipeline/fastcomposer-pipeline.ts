import * as ort from "onnxruntime-node";
import type { ClipTokenizer } from "@troupe/shared/tokenizer";
import { assertSubjectCount, encodePlain, parsePrompt } from "@troupe/shared/prompt";
import { sizeProblem } from "@troupe/shared/contracts/manifest";
import { AppError, CanceledError } from "@troupe/shared/errors";
import type { LoadedBundle } from "../bundle/load-bundle.ts";
import { createScheduler } from "../schedulers/index.ts";
import { buildAttentionBias } from "./attention-bias.ts";
import { applyGuidance, textOnlyCalls } from "./guidance.ts";
import { encodePng, renderHeatmap, toRgb8 } from "./image-output.ts";
import { randn } from "./random.ts";
import { preprocessReference } from "./reference-image.ts";
import type { GenerateInput, GenerateOptions, GenerateOutput, ImagePipeline } from "./types.ts";

/** SD 1.5's VAE scaling factor: latents are divided by it before decoding. */
const VAE_SCALING_FACTOR = 0.18215;

const f32 = (data: Float32Array, dims: number[]) => new ort.Tensor("float32", data, dims);
const i64 = (ids: number[][]) => new ort.Tensor("int64", BigInt64Array.from(ids.flat(), (v) => BigInt(v)), [ids.length, ids[0].length]);
const floats = (t: ort.Tensor) => t.data as Float32Array;

/**
 * FastComposer on ONNX Runtime (DESIGN §4), read top to bottom like diffusers' `__call__`.
 * Sessions come from the loaded bundle, created once per process; `generate` holds no state.
 */
export class FastComposerPipeline implements ImagePipeline {
  constructor(
    private readonly bundle: LoadedBundle,
    private readonly tokenizer: ClipTokenizer,
  ) {}

  async generate({ spec, references }: GenerateInput, options: GenerateOptions = {}): Promise<GenerateOutput> {
    const { manifest, sessions } = this.bundle;
    const t = { start: performance.now(), encodeMs: 0, fuseMs: 0, denoiseMs: 0, decodeMs: 0, pngMs: 0 };
    const D = manifest.hiddenSize;
    const L = manifest.tokens.maxLength;
    const N = spec.numImages;
    const h = spec.height / manifest.vaeScaleFactor;
    const w = spec.width / manifest.vaeScaleFactor;
    // The API checks sizes against its bundle; a runner on another bundle (a rolling deploy) checks again.
    for (const field of ["width", "height"] as const) {
      const problem = sizeProblem(manifest, field, spec[field]);
      if (problem) throw new AppError("invalid_request", problem, { [field]: spec[field] });
    }
    let mark = performance.now();
    const lap = () => {
      const now = performance.now();
      const ms = now - mark;
      mark = now;
      return ms;
    };

    // 1. Tokenize and locate subjects
    const tokenOptions = { maxLength: L, pad: manifest.tokens.pad };
    const prompt = parsePrompt(spec.prompt, this.tokenizer, tokenOptions);
    assertSubjectCount(prompt, spec.subjects.length, manifest.maxSubjects);
    const negativeIds = encodePlain(spec.negativePrompt, this.tokenizer, tokenOptions);

    // 2. Encode the negative and the text-only prompt in one batch
    const text = floats((await sessions.textEncoder.run({ input_ids: i64([negativeIds, prompt.inputIds]) })).last_hidden_state);
    const negative = text.slice(0, L * D);
    const textOnly = text.slice(L * D);

    // 3. Encode the reference images
    const size = manifest.imageSize;
    const pixels = await Promise.all(references.map((bytes, i) => preprocessReference(bytes, size, i)));
    const pixelValues = new Float32Array(pixels.length * 3 * size * size);
    pixels.forEach((p, i) => pixelValues.set(p, i * p.length));
    const imageEmbeds = floats((await sessions.imageEncoder.run({ pixel_values: f32(pixelValues, [pixels.length, 3, size, size]) })).image_embeds);
    t.encodeMs = lap();

    // 4. Fuse each subject's image into its word: the augmented prompt embedding
    const S = prompt.subjectPositions.length;
    const subjectText = new Float32Array(S * D);
    prompt.subjectPositions.forEach((pos, s) => subjectText.set(textOnly.subarray(pos * D, (pos + 1) * D), s * D));
    const fused = floats((await sessions.fuse.run({ text_embeds: f32(subjectText, [S, D]), image_embeds: f32(imageEmbeds, [S, D]) })).fused);
    const augmented = textOnly.slice();
    prompt.subjectPositions.forEach((pos, s) => augmented.set(fused.subarray(s * D, (s + 1) * D), pos * D));
    t.fuseMs = lap();

    // 5. Latent noise for every image, from one seeded stream (image n takes the n-th slice)
    const latentSize = manifest.latentChannels * h * w;
    const noise = randn(spec.seed, N * latentSize);

    // 6. Cross-attention bias: the conditional half only; zeros mean the plain UNet
    const plane = L * h * w;
    const subjectBias = buildAttentionBias({ tokens: L, height: h, width: w, subjects: prompt.subjectPositions.map((position, s) => ({ position, box: spec.subjects[s].box })) });
    const bias = new Float32Array(2 * plane);
    if (subjectBias) bias.set(subjectBias, plane);
    const biasTensor = f32(bias, [2, L, h, w]);

    // 7. Denoising loop: per image, one batch-2 UNet call per step ([negative, conditional]), CFG
    const hiddenText = batchEmbeddings(negative, textOnly, L, D);
    const hiddenAugmented = batchEmbeddings(negative, augmented, L, D);
    const mapPlane = L * (h / 4) * (w / 4);
    const attention = new Float32Array(mapPlane);
    let attentionSteps = 0;
    const totalSteps = N * spec.steps;
    options.onProgress?.({ step: 0, totalSteps });
    const images: Float32Array[] = [];
    for (let n = 0; n < N; n++) {
      const scheduler = createScheduler(spec.scheduler, manifest.scheduler);
      scheduler.setTimesteps(spec.steps);
      const timesteps = scheduler.timesteps;
      // PNDM runs warm-up iterations on top of the requested steps; they count as step 0.
      const warmUp = timesteps.length - spec.steps;
      // Delayed subject conditioning: the first `textCalls` UNet calls see the text-only embeddings
      const textCalls = textOnlyCalls(spec.alpha, spec.steps, timesteps.length);
      let latents = noise.slice(n * latentSize, (n + 1) * latentSize).map((v) => v * scheduler.initNoiseSigma);
      for (let i = 0; i < timesteps.length; i++) {
        if (options.signal?.aborted) throw new CanceledError();
        const timestep = timesteps[i];
        const conditioned = i >= textCalls;
        const scaled = scheduler.scaleModelInput(latents, timestep);
        const sample = new Float32Array(2 * latentSize);
        sample.set(scaled, 0);
        sample.set(scaled, latentSize);
        const out = await sessions.unet.run({
          sample: f32(sample, [2, manifest.latentChannels, h, w]),
          timestep: f32(new Float32Array([timestep, timestep]), [2]),
          encoder_hidden_states: conditioned ? hiddenAugmented : hiddenText,
          cross_attention_bias: biasTensor,
        });
        latents = scheduler.step(applyGuidance(floats(out.noise_pred), spec.guidanceScale), timestep, latents);
        // Attention maps: the first image's conditional half, over the subject-conditioned steps (all, if none)
        if (n === 0 && (conditioned || textCalls >= timesteps.length)) {
          const probs = floats(out.attention_probs);
          for (let k = 0; k < mapPlane; k++) attention[k] += probs[mapPlane + k];
          attentionSteps++;
        }
        options.onProgress?.({ step: n * spec.steps + Math.max(0, i + 1 - warmUp), totalSteps });
      }
      images.push(latents);
    }
    t.denoiseMs = lap();

    // 8. Decode, one image at a time (the decoder's activations are large at full size)
    const rgb: Uint8Array[] = [];
    for (const latents of images) {
      const scaledLatents = latents.map((v) => v / VAE_SCALING_FACTOR);
      const decoded = floats((await sessions.vaeDecoder.run({ latent: f32(scaledLatents, [1, manifest.latentChannels, h, w]) })).image);
      rgb.push(toRgb8(decoded, 0, spec.height, spec.width));
    }
    t.decodeMs = lap();

    // 9. PNGs and attention heatmaps over the first image
    const pngs = await Promise.all(rgb.map(async (px) => ({ png: await encodePng(px, spec.width, spec.height), width: spec.width, height: spec.height })));
    const mapSize = (h / 4) * (w / 4);
    const attentionMaps = await Promise.all(
      prompt.subjectPositions.map(async (pos, subject) => {
        const map = attention.subarray(pos * mapSize, (pos + 1) * mapSize).map((v) => v / Math.max(1, attentionSteps));
        return { subject, png: await renderHeatmap(map, h / 4, w / 4, rgb[0], spec.width, spec.height) };
      }),
    );
    t.pngMs = lap();
    return { images: pngs, attentionMaps, timings: { encodeMs: t.encodeMs, fuseMs: t.fuseMs, denoiseMs: t.denoiseMs, decodeMs: t.decodeMs, pngMs: t.pngMs, totalMs: performance.now() - t.start } };
  }
}

/** [negative, conditional] as one encoder_hidden_states tensor [2, L, D]. */
function batchEmbeddings(negative: Float32Array, conditional: Float32Array, tokens: number, dim: number): ort.Tensor {
  const data = new Float32Array(2 * tokens * dim);
  data.set(negative, 0);
  data.set(conditional, tokens * dim);
  return f32(data, [2, tokens, dim]);
}
