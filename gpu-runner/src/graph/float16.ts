/** float32 → IEEE half bits, round to nearest even; overflow → ±Inf, tiny values → subnormals or ±0. */
const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

function toHalfBits(value: number): number {
  f32[0] = value;
  const x = u32[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0); // Inf / NaN
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign; // below half the smallest subnormal
    mant |= 0x800000;
    const shift = 14 - e;
    const half = mant >>> shift;
    const rest = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    return sign | (half + (rest > mid || (rest === mid && half & 1) ? 1 : 0));
  }
  const half = (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  // a carry out of the mantissa correctly bumps the exponent (up to Inf)
  return sign | (half + (rest > 0x1000 || (rest === 0x1000 && half & 1) ? 1 : 0));
}

/** float16's largest finite value. */
const HALF_MAX = 65504;

/**
 * float32 → half bits. Beyond ±65504: "saturate" clamps (graph constants such as a −1e9 mask, where only
 * "very large" matters), "error" throws (a weight that large would silently become Inf).
 */
export function toFloat16Array(values: Float32Array, overflow: "saturate" | "error"): Uint16Array {
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (Math.abs(v) > HALF_MAX && Number.isFinite(v)) {
      if (overflow === "error") throw new RangeError(`value ${v} at index ${i} is beyond float16's range (±${HALF_MAX})`);
      out[i] = toHalfBits(Math.sign(v) * HALF_MAX);
    } else out[i] = toHalfBits(v);
  }
  return out;
}
