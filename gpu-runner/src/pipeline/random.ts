/**
 * Seeded Gaussian noise for the initial latents.
 *
 * Counter-based: Philox4x32-10 (Salmon et al. 2011, "Parallel random numbers: as easy as 1, 2, 3", the
 * generator behind cuRAND and torch's CUDA RNG) with key = seed and counter = block index, so value i
 * depends only on (seed, i): a longer request extends a shorter one, and any slice can be computed alone.
 * All integer arithmetic is exact 32-bit; Box–Muller then uses Math.log/cos/sin, which V8 implements
 * in software (a port of fdlibm), so Node gives the same numbers on every platform.
 */

const PHILOX_M0 = 0xd2511f53;
const PHILOX_M1 = 0xcd9e8d57;
const PHILOX_W0 = 0x9e3779b9; // golden ratio
const PHILOX_W1 = 0xbb67ae85; // sqrt(3) − 1
const TWO_POW_21 = 2 ** 21;
const TWO_POW_53 = 2 ** 53;
const MAX_SEED = 2 ** 32 - 1;

/** High 32 bits of the 64-bit product of two uint32s, from 16-bit halves so every step stays exact. */
function mulhi32(a: number, b: number): number {
  const aL = a & 0xffff;
  const aH = a >>> 16;
  const bL = b & 0xffff;
  const bH = b >>> 16;
  const lh = aL * bH;
  const hl = aH * bL;
  const carry = (((aL * bL) >>> 16) + (lh & 0xffff) + (hl & 0xffff)) >>> 16;
  return (aH * bH + (lh >>> 16) + (hl >>> 16) + carry) >>> 0;
}

/**
 * Philox4x32 with 10 rounds: four uint32 words from a 128-bit counter and a 64-bit key.
 * Checked against Random123's known-answer vectors.
 */
export function philox4x32(counter: readonly [number, number, number, number], key: readonly [number, number]): Uint32Array {
  const out = new Uint32Array(4);
  philoxInto(out, counter[0], counter[1], counter[2], counter[3], key[0], key[1]);
  return out;
}

/** philox4x32 writing into `out`: no allocation in the noise loop. */
function philoxInto(out: Uint32Array, c0: number, c1: number, c2: number, c3: number, k0: number, k1: number): void {
  for (let round = 0; round < 10; round++) {
    if (round > 0) {
      k0 = (k0 + PHILOX_W0) >>> 0;
      k1 = (k1 + PHILOX_W1) >>> 0;
    }
    const hi0 = mulhi32(PHILOX_M0, c0 >>> 0);
    const lo0 = Math.imul(PHILOX_M0, c0) >>> 0;
    const hi1 = mulhi32(PHILOX_M1, c2 >>> 0);
    const lo1 = Math.imul(PHILOX_M1, c2) >>> 0;
    c0 = (hi1 ^ c1 ^ k0) >>> 0;
    c1 = lo1;
    c2 = (hi0 ^ c3 ^ k1) >>> 0;
    c3 = lo0;
  }
  out[0] = c0;
  out[1] = c1;
  out[2] = c2;
  out[3] = c3;
}

/** A uniform in [0, 1) with 53 random bits: all 32 of `hi` and the top 21 of `lo`. */
const uniform53 = (hi: number, lo: number) => (hi * TWO_POW_21 + (lo >>> 11)) / TWO_POW_53;

/**
 * `length` standard normal samples for `seed` (an integer in 0..2^32−1).
 * Each Philox block gives two uniforms and, by Box–Muller, two normals: values 2b and 2b + 1.
 */
export function randn(seed: number, length: number): Float32Array<ArrayBuffer> {
  if (!Number.isInteger(seed) || seed < 0 || seed > MAX_SEED) throw new RangeError(`seed must be an integer in 0..${MAX_SEED}, got ${seed}.`);
  if (!Number.isInteger(length) || length < 0) throw new RangeError(`length must be a non-negative integer, got ${length}.`);
  const out = new Float32Array(length);
  const words = new Uint32Array(4);
  for (let block = 0; 2 * block < length; block++) {
    philoxInto(words, block >>> 0, Math.floor(block / 2 ** 32), 0, 0, seed, 0);
    const u1 = 1 - uniform53(words[0], words[1]); // (0, 1]: log never sees 0
    const u2 = uniform53(words[2], words[3]);
    const radius = Math.sqrt(-2 * Math.log(u1));
    const theta = 2 * Math.PI * u2;
    out[2 * block] = radius * Math.cos(theta);
    if (2 * block + 1 < length) out[2 * block + 1] = radius * Math.sin(theta);
  }
  return out;
}
