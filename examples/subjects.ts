import { access, mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import sharp from "sharp";

/** Where the examples go: under the repo's gitignored `.data/`, whatever the working directory. */
export const EXAMPLES_DIR = fileURLToPath(new URL("../.data/examples/", import.meta.url));

export interface Portrait {
  name: string;
  background: string;
  skin: string;
  hair: string;
  /** Long hair falls behind the shoulders; short hair is a cap. */
  longHair: boolean;
  clothes: string;
  eyes: string;
}

/**
 * The reference subjects the project draws itself (no downloaded photos): two stylised head-and-
 * shoulders portraits in distinct colours, matching the README prompt "a man img and a woman img …".
 */
export const PORTRAITS: readonly Portrait[] = [
  { name: "man", background: "#5f9ea0", skin: "#e0ac69", hair: "#2b1d0e", longHair: false, clothes: "#1f4e99", eyes: "#3b2a1a" },
  { name: "woman", background: "#b39ddb", skin: "#f1c27d", hair: "#b5371c", longHair: true, clothes: "#e67e22", eyes: "#1e6b3a" },
];

/** A portrait as SVG: hair, shoulders, neck, head, eyes, brows, nose, mouth, drawn back to front. */
export function portraitSvg(p: Portrait, size = 256): string {
  const longHair = `<path d="M70 110 Q60 200 80 230 L176 230 Q196 200 186 110 Z" fill="${p.hair}"/>`;
  const cap = `<path d="M78 112 Q78 44 128 42 Q178 44 178 112 Q170 76 128 72 Q86 76 78 112 Z" fill="${p.hair}"/>`;
  const fringe = `<path d="M76 118 Q74 40 128 38 Q182 40 180 118 Q168 70 128 66 Q88 70 76 118 Z" fill="${p.hair}"/>`;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${size}" height="${size}" viewBox="0 0 256 256">
  <rect width="256" height="256" fill="${p.background}"/>
  ${p.longHair ? longHair : ""}
  <ellipse cx="128" cy="262" rx="98" ry="62" fill="${p.clothes}"/>
  <rect x="112" y="150" width="32" height="44" rx="10" fill="${p.skin}"/>
  <ellipse cx="128" cy="112" rx="48" ry="60" fill="${p.skin}"/>
  ${p.longHair ? fringe : cap}
  <ellipse cx="108" cy="110" rx="7" ry="5" fill="#fff"/><circle cx="108" cy="110" r="3.5" fill="${p.eyes}"/>
  <ellipse cx="148" cy="110" rx="7" ry="5" fill="#fff"/><circle cx="148" cy="110" r="3.5" fill="${p.eyes}"/>
  <path d="M98 98 Q108 92 118 98 M138 98 Q148 92 158 98" stroke="${p.hair}" stroke-width="3" fill="none"/>
  <path d="M128 116 L122 134 L132 134" stroke="#00000055" stroke-width="2" fill="none"/>
  <path d="M112 146 Q128 156 144 146" stroke="#a0413c" stroke-width="4" fill="none" stroke-linecap="round"/>
</svg>`;
}

export async function renderPortrait(p: Portrait, size = 256): Promise<Buffer> {
  return sharp(Buffer.from(portraitSvg(p, size))).png().toBuffer();
}

const exists = (path: string) => access(path).then(() => true, () => false);

export interface EnsureExamplesOptions {
  /** @default EXAMPLES_DIR */
  dir?: string;
  /** Draw them again even when present. */
  force?: boolean;
}

/** The example reference images' paths, drawing any that are missing. Cheap to call on every run. */
export async function ensureExampleSubjects(options: EnsureExamplesOptions = {}): Promise<string[]> {
  const dir = options.dir ?? EXAMPLES_DIR;
  await mkdir(dir, { recursive: true });
  return Promise.all(
    PORTRAITS.map(async (p) => {
      const path = join(dir, `${p.name}.png`);
      if (options.force || !(await exists(path))) await writeFile(path, await renderPortrait(p));
      return path;
    }),
  );
}
