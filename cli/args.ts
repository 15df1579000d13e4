import { parseArgs } from "node:util";
import type { CreateGenerationInput } from "@troupe/client";

type Box = [number, number, number, number];

export interface GenerateArgs {
  prompt: string;
  /** Reference image paths; empty means "use the example portraits". */
  subjects: string[];
  boxes: Box[];
  /** Everything of the create body except prompt and subjects, only where given. */
  options: Omit<CreateGenerationInput, "prompt" | "subjects">;
  out: string;
  api?: string;
  apiKey?: string;
  dataDir: string;
  pollMs: number;
}

/** Bad command line or bad local input (a subject that is a folder, missing, unreadable, no image): one line, exit 2. */
export class UsageError extends Error {
  override name = "UsageError";
}

/**
 * Exit codes, one per class of failure (also in USAGE and the README).
 * 0 done · 1 the job ran and failed · 2 bad usage or local input · 3 the API refused the request (4xx)
 * · 4 the API could not be reached or failed (network, 5xx) · 5 the images could not be written · 130 canceled.
 */
export const EXIT = { ok: 0, jobFailed: 1, usage: 2, refused: 3, unavailable: 4, output: 5, canceled: 130 } as const;

/** How many standalone `img` words the prompt has (the API checks exactly the same count). */
export const imgCount = (prompt: string) => prompt.match(/(?<![\w])img(?![\w])/g)?.length ?? 0;

export const USAGE = `Usage: npm run generate -- --prompt "a man img and a woman img in a park" [options]

  --prompt TEXT        required; one "img" after each subject word
  --subject PATH       a reference image per "img", in order (repeat); default: the example portraits
  --box x0,y0,x1,y1    a region per subject, normalized 0..1 (repeat; all or none)
  --negative TEXT      negative prompt
  --steps N  --seed N  --scheduler pndm|ddim|euler|dpmpp-2m  --width W  --height H  --num-images N
  --guidance N  --alpha N
  --out DIR            where images go [out]
  --api URL            API base URL [$TROUPE_API_URL, else the local stack]
  --api-key KEY        [$TROUPE_API_KEY]
  --data-dir DIR       local stack data [.data]
  --poll-ms N          how often to ask for progress [200]

Exit codes: 0 done, 1 the job failed, 2 bad usage or local input (checked before anything is uploaded),
3 the API refused the request, 4 the API could not be reached or failed, 5 the images could not be
written, 130 canceled (Ctrl-C).
`;

const OPTIONS = {
  prompt: { type: "string" },
  subject: { type: "string", multiple: true },
  box: { type: "string", multiple: true },
  negative: { type: "string" },
  steps: { type: "string" },
  seed: { type: "string" },
  scheduler: { type: "string" },
  width: { type: "string" },
  height: { type: "string" },
  "num-images": { type: "string" },
  guidance: { type: "string" },
  alpha: { type: "string" },
  out: { type: "string", default: "out" },
  api: { type: "string" },
  "api-key": { type: "string" },
  "data-dir": { type: "string", default: ".data" },
  "poll-ms": { type: "string", default: "200" },
  help: { type: "boolean", short: "h" },
} as const;

function number(name: string, value: string | undefined, integer: boolean): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === "" || !Number.isFinite(n) || (integer && !Number.isInteger(n))) {
    throw new UsageError(`--${name} must be ${integer ? "an integer" : "a number"}, got "${value}".`);
  }
  return n;
}

function box(value: string): Box {
  const parts = value.split(",").map((p) => Number(p));
  if (parts.length !== 4 || parts.some((p) => !Number.isFinite(p))) throw new UsageError(`--box must be four numbers x0,y0,x1,y1, got "${value}".`);
  return parts as Box;
}

/** Drops the keys left undefined, so the API applies its own defaults. */
const defined = <T extends object>(o: T) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;

/** Parses argv (after the script name); `help: true` when -h/--help was asked for. Throws UsageError. */
export function parseGenerateArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): GenerateArgs | { help: true } {
  let values;
  try {
    ({ values } = parseArgs({ args: argv, options: OPTIONS, strict: true, allowPositionals: false }));
  } catch (e) {
    throw new UsageError(e instanceof Error ? e.message : String(e));
  }
  if (values.help) return { help: true };
  if (!values.prompt?.trim()) throw new UsageError("--prompt is required.");
  const subjects = values.subject ?? [];
  const tokens = imgCount(values.prompt);
  if (tokens === 0) throw new UsageError('The prompt has no standalone word "img": put one after each subject word ("a man img").');
  if (subjects.length && subjects.length !== tokens) {
    throw new UsageError(`The prompt has ${tokens} "img" word${tokens === 1 ? "" : "s"} but ${subjects.length} --subject${subjects.length === 1 ? " was" : "s were"} given; give one per "img".`);
  }
  const boxes = (values.box ?? []).map(box);
  if (subjects.length && boxes.length && boxes.length !== subjects.length) {
    throw new UsageError(`Give one --box per --subject (${subjects.length} subjects, ${boxes.length} boxes) or none.`);
  }
  const api = values.api ?? env.TROUPE_API_URL;
  const apiKey = values["api-key"] ?? env.TROUPE_API_KEY;
  if (api && !apiKey) throw new UsageError("--api needs an API key: --api-key KEY or TROUPE_API_KEY.");
  const scheduler = values.scheduler as CreateGenerationInput["scheduler"];
  return {
    prompt: values.prompt,
    subjects,
    boxes,
    options: defined({
      negativePrompt: values.negative,
      steps: number("steps", values.steps, true),
      seed: number("seed", values.seed, true),
      scheduler,
      width: number("width", values.width, true),
      height: number("height", values.height, true),
      numImages: number("num-images", values["num-images"], true),
      guidanceScale: number("guidance", values.guidance, false),
      alpha: number("alpha", values.alpha, false),
    }),
    out: values.out,
    api,
    apiKey,
    dataDir: values["data-dir"],
    pollMs: number("poll-ms", values["poll-ms"], true) ?? 200,
  };
}
