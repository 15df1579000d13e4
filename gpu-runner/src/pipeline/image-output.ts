import sharp from "sharp";

/**
 * One image of the VAE output [B,3,H,W] in [-1,1] → 8-bit RGB (HWC), as diffusers'
 * VaeImageProcessor.postprocess: x/2 + 0.5, clamp to [0,1], round.
 */
export function toRgb8(image: Float32Array, index: number, height: number, width: number): Uint8Array {
  const plane = height * width;
  const base = index * 3 * plane;
  const rgb = new Uint8Array(3 * plane);
  for (let p = 0; p < plane; p++) {
    for (let c = 0; c < 3; c++) {
      const v = image[base + c * plane + p] / 2 + 0.5;
      rgb[p * 3 + c] = Math.round(Math.min(1, Math.max(0, v)) * 255);
    }
  }
  return rgb;
}

/** PNG bytes carry no timestamp or other varying metadata, so the same pixels give the same file. */
export const encodePng = (rgb: Uint8Array, width: number, height: number): Promise<Buffer> =>
  sharp(rgb, { raw: { width, height, channels: 3 } }).png({ compressionLevel: 6 }).toBuffer();

/** A perceptual-ish ramp: dark blue → red → yellow, for attention intensity in [0,1]. */
function heatColor(v: number): [number, number, number] {
  const r = Math.min(1, 2 * v);
  const g = Math.max(0, 2 * v - 1);
  const b = Math.max(0, 0.6 - v);
  return [r * 255, g * 255, b * 255];
}

/**
 * A subject's attention map [h', w'] rendered over the image: scaled to its maximum, coloured,
 * resized to the image (bilinear) and blended at 50%.
 */
export async function renderHeatmap(map: Float32Array, mapHeight: number, mapWidth: number, image: Uint8Array, width: number, height: number): Promise<Buffer> {
  let max = 0;
  for (const v of map) max = Math.max(max, v);
  const small = new Uint8Array(mapHeight * mapWidth * 3);
  map.forEach((v, i) => small.set(heatColor(max > 0 ? v / max : 0), i * 3));
  const heat = await sharp(small, { raw: { width: mapWidth, height: mapHeight, channels: 3 } })
    .resize(width, height, { kernel: "linear" })
    .raw()
    .toBuffer();
  const blended = new Uint8Array(image.length);
  for (let i = 0; i < image.length; i++) blended[i] = Math.round(0.5 * image[i] + 0.5 * heat[i]);
  return encodePng(blended, width, height);
}
