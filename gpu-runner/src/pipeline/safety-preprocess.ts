/**
 * The safety checker's input (SD 1.5's `feature_extractor`, transformers' CLIPImageProcessor with PIL):
 * shortest side to `size` with Pillow's BICUBIC, centre crop `size`², x/255, CLIP mean/std, CHW float32.
 *
 * The resize is a port of Pillow's 8-bit resampler (libImaging/Resample.c), not sharp's `cubic`: libvips
 * places and weights its taps differently (measured on the parity fixture's images, safety-preprocess.test.ts:
 * a 256→224 shrink lands up to ~11 grey levels off Pillow, a 180→224 enlargement up to ~150 on sharp edges),
 * far outside the fixture's 1e-4 bound. Pillow's bytes are what the checker's thresholds were set on. Cost:
 * one 512² → 224² resize is a few ms of JavaScript, small beside the checker's ViT pass.
 */

/** CLIP's normalization (SD 1.5 feature_extractor/preprocessor_config.json), as float32 like numpy's. */
const MEAN = [0.48145466, 0.4578275, 0.40821073].map(Math.fround);
const STD = [0.26862954, 0.26130258, 0.27577711].map(Math.fround);

/** Pillow's PRECISION_BITS for 8-bit images: 32 − 8 − 2. */
const PRECISION_BITS = 22;

/** Pillow's bicubic_filter, a = −0.5, support 2. */
function bicubic(x: number): number {
  const t = Math.abs(x);
  if (t < 1) return (1.5 * t - 2.5) * t * t + 1;
  if (t < 2) return -0.5 * (((t - 5) * t + 8) * t - 4);
  return 0;
}

interface Coefficients {
  /** First source index of each output's taps. */
  lo: Int32Array;
  /** Number of taps of each output. */
  count: Int32Array;
  /** Fixed-point weights, `ksize` per output. */
  weights: Int32Array;
  ksize: number;
}

/** Pillow's precompute_coeffs + normalize_coeffs_8bpc for one axis, input n → output m. */
function coefficients(n: number, m: number): Coefficients {
  const scale = n / m;
  const filterScale = Math.max(scale, 1);
  const support = 2 * filterScale;
  const ksize = Math.ceil(support) * 2 + 1;
  const lo = new Int32Array(m);
  const count = new Int32Array(m);
  const weights = new Int32Array(m * ksize);
  const k = new Float64Array(ksize);
  for (let i = 0; i < m; i++) {
    const center = (i + 0.5) * scale;
    const xmin = Math.max(Math.trunc(center - support + 0.5), 0);
    const xmax = Math.min(Math.trunc(center + support + 0.5), n) - xmin;
    let sum = 0;
    for (let x = 0; x < xmax; x++) sum += k[x] = bicubic((x + xmin - center + 0.5) / filterScale);
    for (let x = 0; x < xmax; x++) {
      const w = sum !== 0 ? k[x] / sum : k[x];
      weights[i * ksize + x] = Math.trunc(w < 0 ? w * 2 ** PRECISION_BITS - 0.5 : w * 2 ** PRECISION_BITS + 0.5);
    }
    lo[i] = xmin;
    count[i] = xmax;
  }
  return { lo, count, weights, ksize };
}

/** Pillow's clip8: the fixed-point sum (with its rounding half added) back to a byte. */
const clip8 = (sum: number) => (sum >= 2 ** (PRECISION_BITS + 8) ? 255 : sum <= 0 ? 0 : Math.floor(sum / 2 ** PRECISION_BITS));

/** One separable pass over interleaved RGB: along x (`horizontal`) or y, to uint8 as Pillow stores it between passes. */
function pass(src: Uint8Array, width: number, height: number, outSize: number, horizontal: boolean): Uint8Array {
  const c = coefficients(horizontal ? width : height, outSize);
  const outW = horizontal ? outSize : width;
  const outH = horizontal ? height : outSize;
  const out = new Uint8Array(outW * outH * 3);
  const half = 2 ** (PRECISION_BITS - 1);
  for (let y = 0; y < outH; y++) {
    for (let x = 0; x < outW; x++) {
      const i = horizontal ? x : y;
      const base = i * c.ksize;
      for (let ch = 0; ch < 3; ch++) {
        let sum = half;
        for (let t = 0; t < c.count[i]; t++) {
          const s = c.lo[i] + t;
          sum += src[((horizontal ? y : s) * width + (horizontal ? s : x)) * 3 + ch] * c.weights[base + t];
        }
        out[(y * outW + x) * 3 + ch] = clip8(sum);
      }
    }
  }
  return out;
}

/**
 * `PIL.Image.resize((outW, outH), BICUBIC)` of an 8-bit RGB image (HWC): horizontal pass first, stored as
 * uint8, then vertical; an axis whose size does not change is not resampled. (Pillow runs the horizontal
 * pass over only the rows the vertical pass reads; every row it does compute is the same as here.)
 */
export function resizeBicubicPil(rgb: Uint8Array, width: number, height: number, outW: number, outH: number): Uint8Array {
  let img = rgb;
  if (outW !== width) img = pass(img, width, height, outW, true);
  if (outH !== height) img = pass(img, outW, height, outH, false);
  return img;
}

/** transformers' get_resize_output_image_size for `shortest_edge`: the long side truncated, not rounded. */
export function shortestSideSize(width: number, height: number, size: number): { width: number; height: number } {
  if (width <= height) return { width: size, height: Math.trunc((size * height) / width) };
  return { width: Math.trunc((size * width) / height), height: size };
}

/** 8-bit RGB (HWC) → the checker's pixel values [3, size, size] (see the file comment). */
export function safetyPixels(rgb: Uint8Array, width: number, height: number, size: number): Float32Array {
  const resized = shortestSideSize(width, height, size);
  const img = resizeBicubicPil(rgb, width, height, resized.width, resized.height);
  const top = Math.floor((resized.height - size) / 2);
  const left = Math.floor((resized.width - size) / 2);
  const plane = size * size;
  const out = new Float32Array(3 * plane);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const src = ((y + top) * resized.width + (x + left)) * 3;
      for (let ch = 0; ch < 3; ch++) {
        const v = Math.fround(img[src + ch] * (1 / 255)); // float64 rescale, then float32
        out[ch * plane + y * size + x] = Math.fround(v - MEAN[ch]) / STD[ch];
      }
    }
  }
  return out;
}
