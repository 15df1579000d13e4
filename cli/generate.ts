import { access } from "node:fs/promises";
import { createTroupeClient, isTroupeError, type Job } from "@troupe/functions/client";
import { ensureExampleSubjects } from "../examples/subjects.ts";
import { parseGenerateArgs, UsageError, USAGE, type GenerateArgs } from "./args.ts";
import { progressView, type ProgressView } from "./progress.ts";
import { saveOutputs } from "./save-outputs.ts";
import { resolveTarget, type Target } from "./target.ts";

/**
 * `npm run generate -- --prompt "a man img and a woman img in a park" [--subject a.jpg …]`
 * Exit codes: 0 done, 1 the API or the job failed, 2 bad usage, 130 canceled with Ctrl-C.
 */
const out = process.stdout;
const err = process.stderr;

/** How many `img` tokens the prompt has, so the example portraits can match it (the API checks exactly). */
const imgCount = (prompt: string) => prompt.match(/(?<![\w])img(?![\w])/g)?.length ?? 0;

async function referenceImages(args: GenerateArgs): Promise<string[]> {
  const paths = args.subjects.length ? args.subjects : (await ensureExampleSubjects()).slice(0, Math.max(1, imgCount(args.prompt)));
  for (const path of paths) {
    await access(path).catch(() => {
      throw new UsageError(`Cannot read --subject ${path}.`);
    });
  }
  if (args.boxes.length && args.boxes.length !== paths.length) {
    throw new UsageError(`Give one --box per subject (${paths.length} subjects, ${args.boxes.length} boxes) or none.`);
  }
  return paths;
}

/** Ctrl-C once: cancel the job and exit when the API confirms. Twice: leave at once. */
function cancelOnInterrupt(): AbortController {
  const controller = new AbortController();
  process.on("SIGINT", () => {
    if (controller.signal.aborted) process.exit(130);
    err.write("\ncanceling… (Ctrl-C again to quit now)\n");
    controller.abort();
  });
  return controller;
}

async function generate(args: GenerateArgs, paths: string[], target: Target, view: ProgressView, onJob: (id: string) => void): Promise<Job> {
  const client = createTroupeClient({ baseUrl: target.apiUrl, apiKey: target.apiKey });
  const uploads = await Promise.all(paths.map((path) => client.uploadFile(path)));
  const subjects = uploads.map((u, i) => ({ uploadId: u.id, ...(args.boxes[i] ? { box: args.boxes[i] } : {}) }));
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

function report(e: unknown, jobId: string | undefined): number {
  if (e instanceof UsageError) {
    err.write(`error: ${e.message}\n\n${USAGE}`);
    return 2;
  }
  const job = jobId ? ` (job ${jobId})` : "";
  if (isTroupeError(e)) {
    err.write(`error: ${e.code}: ${e.message}${job}${e.requestId ? ` [request ${e.requestId}]` : ""}\n`);
    return e.code === "canceled" ? 130 : 1;
  }
  err.write(`error: ${e instanceof Error ? e.message : String(e)}${job}\n`);
  return 1;
}

async function main(argv: string[]): Promise<number> {
  let args: GenerateArgs;
  try {
    const parsed = parseGenerateArgs(argv);
    if ("help" in parsed) {
      out.write(USAGE);
      return 0;
    }
    args = parsed;
  } catch (e) {
    return report(e, undefined);
  }

  const view = progressView(err);
  let jobId: string | undefined;
  let target: Target | undefined;
  try {
    const paths = await referenceImages(args);
    target = await resolveTarget({ ...args, onBoot: () => err.write("starting the local stack for this run…\n") });
    const job = await generate(args, paths, target, view, (id) => (jobId = id));
    view.saving();
    const files = await saveOutputs(job, args.out);
    view.done();
    out.write(`job ${job.id} succeeded (seed ${job.input.seed}, ${job.input.steps} steps, ${job.input.width}x${job.input.height})\n`);
    out.write([...files.images, ...files.attentionMaps].map((p) => `${p}\n`).join(""));
    return 0;
  } catch (e) {
    view.done();
    return report(e, jobId);
  } finally {
    await target?.close();
  }
}

process.exit(await main(process.argv.slice(2)));
