import * as ort from "onnxruntime-node";
import type { ClipTokenizer } from "@troupe/shared/tokenizer";
import { assertSubjectCount, encodePlain, parsePrompt } from "@troupe/shared/prompt";
import { guidanceHalves, imagesPerCall, memoryProblem, sizeProblem } from "@troupe/shared/contracts/manifest";
import { AppError, CanceledError } from "@troupe/shared/errors";
import type { LoadedBundle } from "../bundle/load-bundle.ts";
import { createScheduler } from "../schedulers/index.ts";
import { buildAttentionBias } from "./attention-bias.ts";
import { applyGuidance, textOnlyCalls } from "./guidance.ts";
import { encodePng, renderHeatmap, toRgb8 } from "./image-output.ts";
import { randn } from "./random.ts";
import { preprocessReference } from "./reference-image.ts";
import { assertSafetyCheckable, checkImages } from "./safety-check.ts";
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

  /** Whether the bundle has a safety checker: without one, jobs under policy block or flag fail (`safety_unavailable`). */
  get hasSafetyChecker(): boolean {
    return this.bundle.safetyChecker !== undefined;
  }

  /** See ImagePipeline: derived from the image encoder graph's sha256, so a rebuilt encoder never reads a stale cache. */
  get embeddingVersion(): string {
    const { manifest } = this.bundle;
    const file = manifest.files.find((f) => f.path === manifest.graphs.imageEncoder);
    return `${manifest.name}-${manifest.version}-${file?.sha256.slice(0, 16) ?? "unknown"}`.replace(/[^A-Za-z0-9._-]/g, "_");
  }

  async encodeReferences(references: Uint8Array[], subjects: readonly number[] = references.map((_, i) => i)): Promise<Float32Array[]> {
    if (references.length === 0) return [];
    const D = this.bundle.manifest.hiddenSize;
    const size = this.bundle.manifest.imageSize;
    const pixels = await Promise.all(references.map((bytes, i) => preprocessReference(bytes, size, subjects[i]!)));
    const pixelValues = new Float32Array(pixels.length * 3 * size * size);
    pixels.forEach((p, i) => pixelValues.set(p, i * p.length));
    const embeds = floats((await this.bundle.sessions.imageEncoder.run({ pixel_values: f32(pixelValues, [pixels.length, 3, size, size]) })).image_embeds);
    return references.map((_, i) => embeds.slice(i * D, (i + 1) * D));
  }

  /** [S, D] image embeddings in subject order: the given ones as they are, the rest encoded in one batch. */
  private async subjectEmbeddings(references: Uint8Array[], given: (Float32Array | undefined)[] = []): Promise<Float32Array> {
    const D = this.bundle.manifest.hiddenSize;
    const missing = references.map((_, s) => s).filter((s) => !given[s]);
    const encoded = await this.encodeReferences(missing.map((s) => references[s]!), missing);
    const out = new Float32Array(references.length * D);
    references.forEach((_, s) => {
      const embedding = given[s] ?? encoded[missing.indexOf(s)];
      if (embedding.length !== D) throw new AppError("invalid_request", `Subject ${s}'s cached embedding has ${embedding.length} values; the model needs ${D}.`, { subject: s });
      out.set(embedding, s * D);
    });
    return out;
  }

  async generate(input: GenerateInput, options: GenerateOptions = {}): Promise<GenerateOutput> {
    const { spec, references } = input;
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
    const memory = memoryProblem(manifest, spec);
    if (memory) throw new AppError("invalid_request", memory.message, { limit: memory.limit });
    // A policy that needs the safety checker fails here, before any work, on a bundle without one.
    const safetyPolicy = options.safetyPolicy ?? "off";
    assertSafetyCheckable(safetyPolicy, this.bundle.safetyChecker);
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

    // 3. Encode the reference images (a stored subject brings its cached embedding and skips this)
    const imageEmbeds = await this.subjectEmbeddings(references, input.imageEmbeds);
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

    // 6. Cross-attention bias for the conditional samples; zeros (the plain UNet) without boxes
    const subjectBias = buildAttentionBias({ tokens: L, height: h, width: w, subjects: prompt.subjectPositions.map((position, s) => ({ position, box: spec.subjects[s].box })) });

    // 7. Denoising loop, classifier-free guidance. Each UNet call runs G images (all N where the memory
    //    budget allows, else one), batched [negative × G, conditional × G] (no negative half at guidance 1).
    //    Every image keeps its own latents, noise slice and scheduler; the inputs are allocated once.
    const halves = guidanceHalves(spec.guidanceScale);
    const G = imagesPerCall(manifest.memory, spec);
    const inputs = unetInputs({ images: G, halves, latentShape: [manifest.latentChannels, h, w], tokens: L, dim: D, negative, textOnly, augmented, subjectBias });
    const mapPlane = L * (h / 4) * (w / 4);
    const attention = new Float32Array(mapPlane);
    let attentionSteps = 0;
    const totalSteps = N * spec.steps;
    options.onProgress?.({ step: 0, totalSteps });
    const images: Float32Array[] = [];
    for (let first = 0; first < N; first += G) {
      const schedulers = Array.from({ length: G }, () => createScheduler(spec.scheduler, manifest.scheduler));
      schedulers.forEach((s) => s.setTimesteps(spec.steps));
      const timesteps = schedulers[0].timesteps;
      // PNDM runs warm-up iterations on top of the requested steps; they count as step 0.
      const warmUp = timesteps.length - spec.steps;
      // Delayed subject conditioning: the first `textCalls` UNet calls see the text-only embeddings
      const textCalls = textOnlyCalls(spec.alpha, spec.steps, timesteps.length);
      const latents = schedulers.map((s, g) => noise.slice((first + g) * latentSize, (first + g + 1) * latentSize).map((v) => v * s.initNoiseSigma));
      for (let i = 0; i < timesteps.length; i++) {
        if (options.signal?.aborted) throw new CanceledError();
        const timestep = timesteps[i];
        const conditioned = i >= textCalls;
        inputs.timestep.fill(timestep);
        schedulers.forEach((s, g) => {
          const scaled = s.scaleModelInput(latents[g], timestep);
          for (let half = 0; half < halves; half++) inputs.sample.set(scaled, (half * G + g) * latentSize);
        });
        const out = await sessions.unet.run(inputs.feeds(conditioned));
        const noisePred = halves === 2 ? applyGuidance(floats(out.noise_pred), spec.guidanceScale) : floats(out.noise_pred);
        schedulers.forEach((s, g) => {
          latents[g] = s.step(noisePred.subarray(g * latentSize, (g + 1) * latentSize), timestep, latents[g]);
        });
        // Attention maps: the first image's conditional sample, over the subject-conditioned steps (all, if none)
        if (first === 0 && (conditioned || textCalls >= timesteps.length)) {
          const probs = floats(out.attention_probs).subarray(inputs.firstConditional * mapPlane, (inputs.firstConditional + 1) * mapPlane);
          for (let k = 0; k < mapPlane; k++) attention[k] += probs[k];
          attentionSteps++;
        }
        options.onProgress?.({ step: first * spec.steps + G * Math.max(0, i + 1 - warmUp), totalSteps });
      }
      images.push(...latents);
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

    // 9. Safety check, one checker pass per image (diffusers' run_safety_checker), unless the policy is off
    const safety = safetyPolicy === "off" ? undefined : await checkImages(this.bundle.safetyChecker!, rgb, spec.width, spec.height);
    const safetyMs = lap();

    // 10. PNGs and attention heatmaps over the first image (over black when policy block withholds it)
    const pngs = await Promise.all(rgb.map(async (px, n) => ({ png: await encodePng(px, spec.width, spec.height), width: spec.width, height: spec.height, safety: safety?.[n] })));
    const heatmapBase = safetyPolicy === "block" && safety?.[0].flagged ? new Uint8Array(rgb[0].length) : rgb[0];
    const mapSize = (h / 4) * (w / 4);
    const attentionMaps = await Promise.all(
      prompt.subjectPositions.map(async (pos, subject) => {
        const map = attention.subarray(pos * mapSize, (pos + 1) * mapSize).map((v) => v / Math.max(1, attentionSteps));
        return { subject, png: await renderHeatmap(map, h / 4, w / 4, heatmapBase, spec.width, spec.height) };
      }),
    );
    t.pngMs = lap();
    return { images: pngs, attentionMaps, timings: { encodeMs: t.encodeMs, fuseMs: t.fuseMs, denoiseMs: t.denoiseMs, decodeMs: t.decodeMs, safetyMs, pngMs: t.pngMs, totalMs: performance.now() - t.start } };
  }
}

/**
 * The UNet's inputs for G images per call, allocated once per job and refilled each step: `sample` and
 * `timestep` are written in place; the embeddings and the bias are fixed, [negative × G, conditional × G]
 * (just the conditional G when `halves` is 1), with zero bias on the negative samples.
 */
function unetInputs(o: {
  images: number;
  halves: number;
  latentShape: [number, number, number];
  tokens: number;
  dim: number;
  negative: Float32Array;
  textOnly: Float32Array;
  augmented: Float32Array;
  subjectBias: Float32Array | null;
}) {
  const [c, h, w] = o.latentShape;
  const batch = o.halves * o.images;
  const firstConditional = (o.halves - 1) * o.images; // batch index of the first image's conditional sample
  const sample = new Float32Array(batch * c * h * w);
  const timestep = new Float32Array(batch);
  const hidden = (conditional: Float32Array) => {
    const data = new Float32Array(batch * o.tokens * o.dim);
    for (let b = 0; b < batch; b++) data.set(b < firstConditional ? o.negative : conditional, b * o.tokens * o.dim);
    return f32(data, [batch, o.tokens, o.dim]);
  };
  const plane = o.tokens * h * w;
  const bias = new Float32Array(batch * plane);
  if (o.subjectBias) for (let b = firstConditional; b < batch; b++) bias.set(o.subjectBias, b * plane);
  const fixed = {
    sample: f32(sample, [batch, c, h, w]),
    timestep: f32(timestep, [batch]),
    cross_attention_bias: f32(bias, [batch, o.tokens, h, w]),
  };
  const textOnlyFeeds = { ...fixed, encoder_hidden_states: hidden(o.textOnly) };
  const augmentedFeeds = { ...fixed, encoder_hidden_states: hidden(o.augmented) };
  return { sample, timestep, firstConditional, feeds: (conditioned: boolean) => (conditioned ? augmentedFeeds : textOnlyFeeds) };
}
