import { readFile, stat } from "node:fs/promises";
import { createTroupeClient, detectContentType, isTroupeError, type Job } from "@troupe/client";
import { saveOutputs } from "@troupe/client/node";
import { ensureExampleSubjects } from "../examples/subjects.ts";
import { EXIT, imgCount, parseGenerateArgs, UsageError, USAGE, type GenerateArgs } from "./args.ts";
import { progressView, type ProgressView } from "./progress.ts";
import { resolveTarget, type Target } from "./target.ts";

/**
 * `npm run generate -- --prompt "a man img and a woman img in a park" [--subject a.jpg …]`
 * Exit codes: see EXIT in args.ts (0 done, 1 job failed, 2 usage, 3 refused, 4 unavailable, 5 output, 130 canceled).
 */
const out = process.stdout;
const err = process.stderr;

/** The images could not be written or downloaded after the job succeeded. */
class OutputError extends Error {}

/** One subject file's bytes, or a one-line UsageError saying what is wrong with it (never a raw EISDIR). */
async function readSubject(path: string): Promise<Uint8Array> {
  const why = (e: unknown) => {
    const code = (e as NodeJS.ErrnoException).code;
    return code === "ENOENT" ? "does not exist" : code === "EACCES" || code === "EPERM" ? "is not readable (permission denied)" : `cannot be read (${code ?? String(e)})`;
  };
  const info = await stat(path).catch((e: unknown) => {
    throw new UsageError(`--subject ${path} ${why(e)}.`);
  });
  if (info.isDirectory()) throw new UsageError(`--subject ${path} is a directory, not an image file.`);
  if (!info.isFile()) throw new UsageError(`--subject ${path} is not a regular file.`);
  const bytes = await readFile(path).catch((e: unknown) => {
    throw new UsageError(`--subject ${path} ${why(e)}.`);
  });
  if (!detectContentType(bytes)) throw new UsageError(`--subject ${path} is not a JPEG, PNG or WebP image.`);
  return bytes;
}

/** Every local input checked and read before anything is uploaded. */
async function referenceImages(args: GenerateArgs): Promise<Uint8Array[]> {
  const paths = args.subjects.length ? args.subjects : (await ensureExampleSubjects()).slice(0, Math.max(1, imgCount(args.prompt)));
  if (paths.length !== imgCount(args.prompt)) {
    throw new UsageError(`The prompt has ${imgCount(args.prompt)} "img" words but only ${paths.length} example subjects exist; pass --subject for each.`);
  }
  if (args.boxes.length && args.boxes.length !== paths.length) {
    throw new UsageError(`Give one --box per subject (${paths.length} subjects, ${args.boxes.length} boxes) or none.`);
  }
  return Promise.all(paths.map(readSubject));
}

/** Ctrl-C once: cancel the job and exit when the API confirms. Twice: leave at once. */
function cancelOnInterrupt(): AbortController {
  const controller = new AbortController();
  process.on("SIGINT", () => {
    if (controller.signal.aborted) process.exit(EXIT.canceled);
    err.write("\ncanceling… (Ctrl-C again to quit now)\n");
    controller.abort();
  });
  return controller;
}

async function generate(args: GenerateArgs, files: Uint8Array[], target: Target, view: ProgressView, onJob: (id: string) => void): Promise<Job> {
  const client = createTroupeClient({ baseUrl: target.apiUrl, apiKey: target.apiKey });
  const subjects = files.map((file, i) => ({ file, ...(args.boxes[i] ? { box: args.boxes[i] } : {}) }));
  return client.run(
    { prompt: args.prompt, subjects, ...args.options },
    {
      signal: cancelOnInterrupt().signal,
      pollIntervalMs: args.pollMs,
      onProgress: (job) => {
        onJob(job.id);
        view.update(job);
      },
    },
  );
}

/** The exit code for a failure, and its one line on stderr. */
function report(e: unknown, jobId: string | undefined): number {
  if (e instanceof UsageError) {
    err.write(`error: ${e.message} (npm run generate -- --help for usage)\n`);
    return EXIT.usage;
  }
  const job = jobId ? ` (job ${jobId})` : "";
  if (e instanceof OutputError) {
    err.write(`error: could not save the images: ${e.message}${job}\n`);
    return EXIT.output;
  }
  if (isTroupeError(e)) {
    err.write(`error: ${e.code}: ${e.message}${job}${e.requestId ? ` [request ${e.requestId}]` : ""}\n`);
    if (e.code === "canceled") return EXIT.canceled;
    if (e.status === 0 && e.details && typeof e.details === "object" && "job" in e.details) return EXIT.jobFailed;
    if (e.status >= 400 && e.status < 500) return EXIT.refused;
    if (e.code === "upload_invalid" && e.status === 0) return EXIT.usage;
    return EXIT.unavailable;
  }
  err.write(`error: ${e instanceof Error ? e.message : String(e)}${job}\n`);
  return EXIT.unavailable;
}

async function main(argv: string[]): Promise<number> {
  let args: GenerateArgs;
  try {
    const parsed = parseGenerateArgs(argv);
    if ("help" in parsed) {
      out.write(USAGE);
      return EXIT.ok;
    }
    args = parsed;
  } catch (e) {
    return report(e, undefined);
  }

  const view = progressView(err);
  let jobId: string | undefined;
  let target: Target | undefined;
  try {
    const files = await referenceImages(args);
    target = await resolveTarget({ ...args, onBoot: () => err.write("starting the local stack for this run…\n") });
    const job = await generate(args, files, target, view, (id) => (jobId = id));
    view.saving();
    const saved = await saveOutputs(job, args.out).catch((e: unknown) => {
      throw new OutputError(e instanceof Error ? e.message : String(e));
    });
    view.done();
    out.write(`job ${job.id} succeeded (seed ${job.input.seed}, ${job.input.steps} steps, ${job.input.width}x${job.input.height})\n`);
    // A withheld image has no URL and so no file: say so rather than print one path fewer.
    out.write(job.outputs.flatMap((o, n) => (o.withheld ? [`image ${n + 1} of ${job.outputs.length} withheld (${o.reason ?? "safety"})\n`] : [])).join(""));
    out.write([...saved.images, ...saved.attentionMaps].map((p) => `${p}\n`).join(""));
    return EXIT.ok;
  } catch (e) {
    view.done();
    return report(e, jobId);
  } finally {
    await target?.close();
  }
}

process.exit(await main(process.argv.slice(2)));
