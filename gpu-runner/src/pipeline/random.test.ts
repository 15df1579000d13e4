import { describe, expect, it } from "vitest";
import { philox4x32, randn } from "./random.ts";

const hex = (words: Uint32Array) => [...words].map((w) => w.toString(16).padStart(8, "0"));

describe("philox4x32", () => {
  // Random123's tests/kat_vectors for philox4x32 with 10 rounds
  it.each([
    [[0, 0, 0, 0], [0, 0], ["6627e8d5", "e169c58d", "bc57ac4c", "9b00dbd8"]],
    [[0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff], [0xffffffff, 0xffffffff], ["408f276d", "41c83b0e", "a20bc7c6", "6d5451fd"]],
    [[0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344], [0xa4093822, 0x299f31d0], ["d16cfe09", "94fdcceb", "5001e420", "24126ea1"]],
  ] as const)("matches the known answer for counter %j, key %j", (counter, key, expected) => {
    expect(hex(philox4x32(counter, key))).toEqual(expected);
  });
});

describe("randn", () => {
  it("gives the same numbers for the same seed", () => {
    expect(randn(42, 1000)).toEqual(randn(42, 1000));
  });

  it("pins its first values, so a change of algorithm cannot pass unnoticed", () => {
    // produced by this implementation when it was written; any platform must reproduce them exactly
    expect(Array.from(randn(42, 4))).toEqual([1.2345417737960815, 0.6118499636650085, -2.9550533294677734, -0.25885656476020813]);
  });

  it("differs between seeds", () => {
    const a = randn(1, 64);
    const b = randn(2, 64);
    expect(a.some((v, i) => v !== b[i])).toBe(true);
  });

  it("extends a shorter request with the same prefix (counter-based)", () => {
    const short = randn(7, 5);
    const long = randn(7, 11);
    expect(long.subarray(0, 5)).toEqual(short);
  });

  it("accepts the seed range bounds 0 and 2^32 − 1", () => {
    for (const seed of [0, 2 ** 32 - 1]) {
      const x = randn(seed, 16);
      expect(x).toHaveLength(16);
      expect(x.every(Number.isFinite)).toBe(true);
    }
    expect(randn(0, 16)).not.toEqual(randn(2 ** 32 - 1, 16));
  });

  it("rejects seeds outside 0..2^32 − 1 and bad lengths", () => {
    for (const seed of [-1, 2 ** 32, 1.5, Number.NaN]) expect(() => randn(seed, 4)).toThrow(RangeError);
    expect(() => randn(0, -1)).toThrow(RangeError);
    expect(randn(0, 0)).toHaveLength(0);
  });

  it("has mean ≈ 0 and variance ≈ 1 over 100k samples", () => {
    const x = randn(1234, 100_000);
    const mean = x.reduce((s, v) => s + v, 0) / x.length;
    const variance = x.reduce((s, v) => s + (v - mean) ** 2, 0) / x.length;
    // standard errors are about 0.003 (mean) and 0.0045 (variance): these bounds are > 6σ
    expect(Math.abs(mean)).toBeLessThan(0.02);
    expect(Math.abs(variance - 1)).toBeLessThan(0.03);
    // tails of a normal: about 0.27% beyond 3σ
    const beyond3 = x.filter((v) => Math.abs(v) > 3).length / x.length;
    expect(beyond3).toBeGreaterThan(0.0015);
    expect(beyond3).toBeLessThan(0.004);
  });
});
