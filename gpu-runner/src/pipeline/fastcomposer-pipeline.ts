import * as ort from "onnxruntime-node";
import type { ClipTokenizer } from "@troupe/shared/tokenizer";
import { assertSubjectCount, encodePlain, parsePrompt } from "@troupe/shared/prompt";
import { CanceledError } from "@troupe/shared/errors";
import type { LoadedBundle } from "../bundle/load-bundle.ts";
import { createScheduler } from "../schedulers/index.ts";
import { buildAttentionBias } from "./attention-bias.ts";
import { applyGuidance, subjectStartStep } from "./guidance.ts";
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

    // 5. Prepare latents and the scheduler
    const scheduler = createScheduler(spec.scheduler, manifest.scheduler);
    scheduler.setTimesteps(spec.steps);
    const latentSize = N * manifest.latentChannels * h * w;
    let latents = randn(spec.seed, latentSize).map((v) => v * scheduler.initNoiseSigma);

    // 6. Cross-attention bias: the conditional half only; zeros mean the plain UNet
    const plane = L * h * w;
    const subjectBias = buildAttentionBias({ tokens: L, height: h, width: w, subjects: prompt.subjectPositions.map((position, s) => ({ position, box: spec.subjects[s].box })) });
    const bias = new Float32Array(2 * N * plane);
    if (subjectBias) for (let n = 0; n < N; n++) bias.set(subjectBias, (N + n) * plane);
    const biasTensor = f32(bias, [2 * N, L, h, w]);

    // 7. Denoising loop, classifier-free guidance in one batch: [negative × N, conditional × N]
    const timesteps = scheduler.timesteps;
    // Counted in loop iterations: PNDM runs steps + 1 of them, and alpha 0 must mean none.
    const start = subjectStartStep(spec.alpha, timesteps.length);
    const hiddenText = batchEmbeddings(negative, textOnly, N, L, D);
    const hiddenAugmented = batchEmbeddings(negative, augmented, N, L, D);
    const mapPlane = L * (h / 4) * (w / 4);
    const attention = new Float32Array(mapPlane);
    let attentionSteps = 0;
    // Progress counts requested steps (PNDM's extra warm-up iteration is folded in), so totalSteps = spec.steps.
    const report = (done: number) => options.onProgress?.({ step: Math.floor((done * spec.steps) / timesteps.length), totalSteps: spec.steps });
    report(0);
    for (let i = 0; i < timesteps.length; i++) {
      if (options.signal?.aborted) throw new CanceledError();
      const timestep = timesteps[i];
      // Delayed subject conditioning: text-only embeddings until step floor((1 − alpha) · steps)
      const hidden = i < start ? hiddenText : hiddenAugmented;
      const scaled = scheduler.scaleModelInput(latents, timestep);
      const sample = new Float32Array(2 * latentSize);
      sample.set(scaled, 0);
      sample.set(scaled, latentSize);
      const out = await sessions.unet.run({
        sample: f32(sample, [2 * N, manifest.latentChannels, h, w]),
        timestep: f32(new Float32Array(2 * N).fill(timestep), [2 * N]),
        encoder_hidden_states: hidden,
        cross_attention_bias: biasTensor,
      });
      latents = scheduler.step(applyGuidance(floats(out.noise_pred), spec.guidanceScale), timestep, latents);
      // Attention maps: the first image's conditional half, averaged over the subject-conditioned steps
      if (i >= start || start >= timesteps.length) {
        const probs = floats(out.attention_probs);
        for (let k = 0; k < mapPlane; k++) attention[k] += probs[N * mapPlane + k];
        attentionSteps++;
      }
      report(i + 1);
    }
    t.denoiseMs = lap();

    // 8. Decode
    const scaledLatents = latents.map((v) => v / VAE_SCALING_FACTOR);
    const decoded = floats((await sessions.vaeDecoder.run({ latent: f32(scaledLatents, [N, manifest.latentChannels, h, w]) })).image);
    const rgb = Array.from({ length: N }, (_, n) => toRgb8(decoded, n, spec.height, spec.width));
    t.decodeMs = lap();

    // 9. PNGs and attention heatmaps over the first image
    const images = await Promise.all(rgb.map(async (px) => ({ png: await encodePng(px, spec.width, spec.height), width: spec.width, height: spec.height })));
    const mapSize = (h / 4) * (w / 4);
    const attentionMaps = await Promise.all(
      prompt.subjectPositions.map(async (pos, subject) => {
        const map = attention.subarray(pos * mapSize, (pos + 1) * mapSize).map((v) => v / Math.max(1, attentionSteps));
        return { subject, png: await renderHeatmap(map, h / 4, w / 4, rgb[0], spec.width, spec.height) };
      }),
    );
    t.pngMs = lap();
    return { images, attentionMaps, timings: { encodeMs: t.encodeMs, fuseMs: t.fuseMs, denoiseMs: t.denoiseMs, decodeMs: t.decodeMs, pngMs: t.pngMs, totalMs: performance.now() - t.start } };
  }
}

/** [negative × N, conditional × N] as one encoder_hidden_states tensor [2N, L, D]. */
function batchEmbeddings(negative: Float32Array, conditional: Float32Array, n: number, tokens: number, dim: number): ort.Tensor {
  const size = tokens * dim;
  const data = new Float32Array(2 * n * size);
  for (let k = 0; k < n; k++) {
    data.set(negative, k * size);
    data.set(conditional, (n + k) * size);
  }
  return f32(data, [2 * n, tokens, dim]);
}
