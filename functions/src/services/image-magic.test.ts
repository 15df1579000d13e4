import { describe, expect, it } from "vitest";
import { matchesMagic } from "./image-magic.ts";

const bytes = (...xs: (number | string)[]) =>
  Uint8Array.from(xs.flatMap((x) => (typeof x === "string" ? [...x].map((c) => c.charCodeAt(0)) : [x])));

const JPEG = bytes(0xff, 0xd8, 0xff, 0xe0, 0, 0x10, "JFIF", 0);
const PNG = bytes(0x89, "PNG", 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d);
const WEBP = bytes("RIFF", 0x24, 0, 0, 0, "WEBPVP8 ");

describe("matchesMagic", () => {
  it("recognizes each allowed type", () => {
    expect(matchesMagic("image/jpeg", JPEG)).toBe(true);
    expect(matchesMagic("image/png", PNG)).toBe(true);
    expect(matchesMagic("image/webp", WEBP)).toBe(true);
  });

  it("refuses another type's bytes, text and truncated headers", () => {
    expect(matchesMagic("image/png", JPEG)).toBe(false);
    expect(matchesMagic("image/jpeg", PNG)).toBe(false);
    expect(matchesMagic("image/webp", bytes("RIFF", 0x24, 0, 0, 0, "WAVEfmt "))).toBe(false);
    expect(matchesMagic("image/png", bytes("<html><body>"))).toBe(false);
    expect(matchesMagic("image/png", PNG.subarray(0, 4))).toBe(false);
    expect(matchesMagic("image/jpeg", new Uint8Array())).toBe(false);
  });
});
