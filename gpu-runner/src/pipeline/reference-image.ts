import sharp from "sharp";
import { UploadInvalidError } from "@troupe/shared/errors";

/** CLIP's image normalization (openai/clip-vit-large-patch14 preprocessor_config.json). */
const CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073];
const CLIP_STD = [0.26862954, 0.26130258, 0.27577711];

/** Refuse decompression bombs: 40 megapixels covers any phone photo. */
export const MAX_INPUT_PIXELS = 40_000_000;

/**
 * One reference photo → CLIP pixel values [3,size,size] (DESIGN §4 step 3): decode (EXIF
 * orientation applied), pad to a square with black, resize to `size`, normalize with CLIP mean/std.
 * The resize uses the linear kernel, which libvips widens by the shrink factor when downscaling: the
 * antialiased bilinear (triangle) filter of FastComposer's torchvision `Resize(BILINEAR, antialias=True)`
 * (equal to 8-bit rounding away from the borders for shrinks under 4×; past that libvips box-shrinks first,
 * which is close, not equal).
 */
export async function preprocessReference(bytes: Uint8Array, size: number, subject = 0): Promise<Float32Array> {
  let decoded: { data: Buffer; info: { channels: number } };
  try {
    const image = sharp(bytes, { limitInputPixels: MAX_INPUT_PIXELS, failOn: "error" }).rotate();
    const { width, height } = await image.clone().metadata().then(async (m) => {
      // metadata() reports pre-rotation size; orientations 5–8 swap the axes.
      const swap = (m.orientation ?? 1) >= 5;
      return { width: swap ? m.height! : m.width!, height: swap ? m.width! : m.height! };
    });
    const side = Math.max(width, height);
    // Two passes: sharp resizes before it extends within one pipeline, whatever the call order.
    const padded = await image
      .removeAlpha()
      .toColourspace("srgb")
      .extend({
        top: Math.floor((side - height) / 2),
        bottom: Math.ceil((side - height) / 2),
        left: Math.floor((side - width) / 2),
        right: Math.ceil((side - width) / 2),
        background: { r: 0, g: 0, b: 0 },
      })
      .raw()
      .toBuffer({ resolveWithObject: true });
    decoded = await sharp(padded.data, { raw: { width: padded.info.width, height: padded.info.height, channels: padded.info.channels } })
      .resize(size, size, { kernel: "linear" })
      .raw()
      .toBuffer({ resolveWithObject: true });
  } catch (e) {
    throw new UploadInvalidError(
      `Reference image ${subject} could not be decoded as an image of at most ${MAX_INPUT_PIXELS / 1e6} megapixels; upload a JPEG, PNG or WebP photo.`,
      { subject, reason: e instanceof Error ? e.message : String(e) },
    );
  }
  const { data, info } = decoded;
  const plane = size * size;
  const out = new Float32Array(3 * plane);
  for (let i = 0; i < plane; i++) {
    for (let c = 0; c < 3; c++) out[c * plane + i] = (data[i * info.channels + c] / 255 - CLIP_MEAN[c]) / CLIP_STD[c];
  }
  return out;
}
