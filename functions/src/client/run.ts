import { randomUUID } from "node:crypto";
import { abortError, isTroupeError, TroupeError } from "./errors.ts";
import type { Sleep } from "./retry-fetch.ts";
import { isTerminal, type CreateGenerationInput, type CreateGenerationOptions, type Job, type RunOptions } from "./types.ts";

/** What `run` needs from the client: the generation calls and a way to wait. */
export interface RunDeps {
  create(input: CreateGenerationInput, options: CreateGenerationOptions): Promise<Job>;
  get(id: string, options?: { signal?: AbortSignal }): Promise<Job>;
  cancel(id: string): Promise<Job>;
  sleep: Sleep;
}

const stateOf = (job: Job) => `${job.status}:${job.progress.step}/${job.progress.totalSteps}`;

/** The error a terminal job that did not succeed stands for; the job rides along in `details`. */
function terminalError(job: Job): TroupeError {
  if (job.status === "canceled") return new TroupeError({ code: "canceled", message: `Generation ${job.id} was canceled.`, details: { job } });
  return new TroupeError({
    code: job.error?.code ?? "internal_error",
    message: job.error?.message ?? `Generation ${job.id} failed.`,
    details: { job },
  });
}

/**
 * Submits, follows the job by polling and settles with the finished job.
 *
 * 1. Submit with an Idempotency-Key, so the retrying fetch may repeat it safely. The submit is not
 *    abortable: once it returns, the job id is known and an abort can always cancel what it started.
 * 2. Report each new state (status + step) once, in order.
 * 3. Poll until terminal; on abort, cancel the job and reject with code `canceled`.
 */
export async function runGeneration(deps: RunDeps, input: CreateGenerationInput, options: RunOptions = {}): Promise<Job> {
  const { signal, onProgress } = options;
  const pollMs = options.pollIntervalMs ?? 1000;
  if (signal?.aborted) throw abortError();

  // 1. Submit
  let job = await deps.create(input, { idempotencyKey: options.idempotencyKey ?? randomUUID() });
  let last = "";
  const report = (j: Job) => {
    const state = stateOf(j);
    if (state === last) return;
    last = state;
    onProgress?.(j);
  };

  try {
    // 2.–3. Report and poll
    for (;;) {
      if (signal?.aborted) throw abortError();
      report(job);
      if (isTerminal(job)) break;
      await deps.sleep(pollMs, signal);
      job = await deps.get(job.id, { signal });
    }
  } catch (e) {
    if (!signal?.aborted) throw e;
    throw abortError({ job: await cancelQuietly(deps, job) });
  }
  if (job.status !== "succeeded") throw terminalError(job);
  return job;
}

/** Cancels after an abort; a job that finished meanwhile (409 not_cancelable) is read back instead. */
async function cancelQuietly(deps: RunDeps, job: Job): Promise<Job> {
  if (isTerminal(job)) return job;
  try {
    return await deps.cancel(job.id);
  } catch (e) {
    if (isTroupeError(e) && e.code === "not_cancelable") return deps.get(job.id);
    throw e;
  }
}
