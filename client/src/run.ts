import { abortError, isTroupeError, TroupeError } from "./errors.js";
import type { Sleep } from "./retry-fetch.js";
import type { FileInput } from "./upload-file.js";
import { isTerminal, type Box, type CreateGenerationInput, type Job, type SubjectInput, type Upload, type UploadContentType } from "./types.js";

/** A subject for `run`: an existing upload, or image bytes that `run` uploads first. */
export type RunSubject = SubjectInput | { file: FileInput; contentType?: UploadContentType | undefined; box?: Box | undefined };

export interface RunInput extends Omit<CreateGenerationInput, "subjects"> {
  subjects: RunSubject[];
}

export interface CreateGenerationOptions {
  /** Same key + same body returns the original job; also makes the create safe to retry. */
  idempotencyKey?: string | undefined;
  /**
   * Seconds (1..60) the API may hold the request open until the job ends (`Prefer: wait=N`).
   * The answer is the finished job, or the job as it stands when the wait ran out.
   */
  wait?: number | undefined;
  signal?: AbortSignal | undefined;
}

export interface RunOptions {
  /** Called on every change of status or step, never twice for the same state. */
  onProgress?: ((job: Job) => void) | undefined;
  /** Aborting cancels the job on the server, then `run` rejects with code `canceled`. */
  signal?: AbortSignal | undefined;
  /** @default 1000 */
  pollIntervalMs?: number | undefined;
  /** Synchronous mode: the submit waits up to this many seconds (≤ 60) for the job to end; polling follows only if it did not. */
  wait?: number | undefined;
  /** @default a random UUID, so the submit can be retried safely */
  idempotencyKey?: string | undefined;
}

/** What `run` needs from the client: the generation calls, an upload and a way to wait. */
export interface RunDeps {
  create(input: CreateGenerationInput, options: CreateGenerationOptions): Promise<Job>;
  get(id: string, options?: { signal?: AbortSignal | undefined }): Promise<Job>;
  cancel(id: string): Promise<Job>;
  uploadFile?(file: FileInput, contentType?: UploadContentType, signal?: AbortSignal): Promise<Upload>;
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

/** Uploads the subjects given as bytes (in parallel) and returns the create body's subjects. */
async function resolveSubjects(deps: RunDeps, subjects: RunSubject[], signal?: AbortSignal): Promise<SubjectInput[]> {
  return Promise.all(
    subjects.map(async (s) => {
      if (!("file" in s)) return s;
      if (!deps.uploadFile) throw new TroupeError({ code: "invalid_request", message: "This client cannot upload files." });
      const upload = await deps.uploadFile(s.file, s.contentType, signal);
      return s.box ? { uploadId: upload.id, box: s.box } : { uploadId: upload.id };
    }),
  );
}

/**
 * Uploads, submits, follows the job and settles with the finished job.
 *
 * 1. Upload the subjects given as bytes.
 * 2. Submit with an Idempotency-Key, so the retrying fetch may repeat it safely (and with
 *    `Prefer: wait` in synchronous mode). The submit is not abortable: once it returns, the job id
 *    is known and an abort can always cancel what it started.
 * 3. Report each new state (status + step) once, in order; poll until terminal; on abort, cancel
 *    the job and reject with code `canceled`.
 */
export async function runGeneration(deps: RunDeps, input: RunInput, options: RunOptions = {}): Promise<Job> {
  const { signal, onProgress } = options;
  const pollMs = options.pollIntervalMs ?? 1000;
  if (signal?.aborted) throw abortError();

  // 1. Upload
  const subjects = await resolveSubjects(deps, input.subjects, signal);
  if (signal?.aborted) throw abortError();

  // 2. Submit
  const idempotencyKey = options.idempotencyKey ?? globalThis.crypto.randomUUID();
  let job = await deps.create({ ...input, subjects }, { idempotencyKey, wait: options.wait });
  let last = "";
  const report = (j: Job) => {
    const state = stateOf(j);
    if (state === last) return;
    last = state;
    onProgress?.(j);
  };

  try {
    // 3. Report and poll
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
