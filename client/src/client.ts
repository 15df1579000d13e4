import { createRequester, type Expect, type RequestOptions } from "./http.js";
import { retryingFetch, sleep as realSleep, type RetryOptions, type Sleep } from "./retry-fetch.js";
import { runGeneration, type CreateGenerationOptions, type RunInput, type RunOptions } from "./run.js";
import { uploadFile, type FileInput } from "./upload-file.js";
import type {
  CreateGenerationInput,
  CreateSubjectInput,
  CreateUploadInput,
  DeliveryList,
  Job,
  JobPage,
  Redelivery,
  Subject,
  SubjectList,
  Upload,
  UploadContentType,
  Usage,
  WebhookSecret,
} from "./types.js";

export interface TroupeClientOptions {
  /** e.g. `https://api.example.com` or the local stack's `http://127.0.0.1:8787`. */
  baseUrl: string;
  apiKey: string;
  /** @default globalThis.fetch */
  fetch?: typeof fetch | undefined;
  /** Retries of safe requests (GETs, PUTs, creates with an Idempotency-Key). @default 3 */
  maxRetries?: number | undefined;
  /** @default 500 */
  retryBaseMs?: number | undefined;
  /** How the client waits between retries and polls; tests inject one to observe the waits. */
  sleep?: Sleep | undefined;
  onRetry?: RetryOptions["onRetry"];
}

type Signal = { signal?: AbortSignal | undefined };

export interface ListGenerationsOptions extends Signal {
  /** 1..100. @default 20 */
  limit?: number | undefined;
  /** `nextCursor` of the previous page. */
  cursor?: string | undefined;
}

/** Paged like generations: newest first. */
export type ListSubjectsOptions = ListGenerationsOptions;

export interface TroupeClient {
  uploads: {
    create(input: CreateUploadInput, options?: Signal): Promise<Upload>;
    /** Deletes the photo now (its presigned URLs stop working); jobs still queued with it fail with `unknown_upload`. */
    delete(id: string, options?: Signal): Promise<void>;
  };
  /** Creates an upload and PUTs the bytes to it; the content type is read from the magic bytes when omitted. */
  uploadFile(file: FileInput, contentType?: UploadContentType, options?: Signal): Promise<Upload>;
  generations: {
    create(input: CreateGenerationInput, options?: CreateGenerationOptions): Promise<Job>;
    get(id: string, options?: Signal): Promise<Job>;
    list(options?: ListGenerationsOptions): Promise<JobPage>;
    cancel(id: string): Promise<Job>;
    /** Every webhook delivery attempt for the job, and whether more are scheduled. */
    deliveries(id: string, options?: Signal): Promise<DeliveryList>;
    /** Sends the job's terminal webhook again now (same webhook-id), on a fresh retry schedule. */
    redeliver(id: string): Promise<Redelivery>;
    /** Deletes the outputs and scrubs prompt and inputs (a running job is canceled first); the job then reads 404. */
    delete(id: string, options?: Signal): Promise<void>;
  };
  /** Reusable subjects: reference `{ subjectId }` in a job instead of uploading the photo again. */
  subjects: {
    create(input: CreateSubjectInput, options?: Signal): Promise<Subject>;
    get(id: string, options?: Signal): Promise<Subject>;
    list(options?: ListSubjectsOptions): Promise<SubjectList>;
    /** Deletes the subject's photo and cached embeddings now; jobs still queued with it fail with `unknown_subject`. */
    delete(id: string, options?: Signal): Promise<void>;
  };
  usage(options?: Signal): Promise<Usage>;
  webhookSecret: { get(options?: Signal): Promise<WebhookSecret>; rotate(): Promise<WebhookSecret> };
  /** Upload the subjects given as bytes, submit, follow progress, resolve with the succeeded job. */
  run(input: RunInput, options?: RunOptions): Promise<Job>;
  /** Any other call, with the same auth, retries and errors: resolves with the body of status `expect`. */
  request<T>(method: string, path: string, expect: Expect, options?: RequestOptions): Promise<T>;
}

const MAX_WAIT_S = 60;

export function createTroupeClient(options: TroupeClientOptions): TroupeClient {
  const sleep = options.sleep ?? realSleep;
  const http = retryingFetch({
    fetch: options.fetch ?? globalThis.fetch.bind(globalThis),
    maxRetries: options.maxRetries,
    retryBaseMs: options.retryBaseMs,
    sleep,
    onRetry: options.onRetry,
  });
  const call = createRequester({ baseUrl: options.baseUrl, apiKey: options.apiKey, fetch: http });
  const request = async <T>(method: string, path: string, expect: Expect, o?: RequestOptions) => (await call<T>(method, path, expect, o)).body;
  const byId = (id: string) => `/v1/generations/${encodeURIComponent(id)}`;
  const subjectById = (id: string) => `/v1/subjects/${encodeURIComponent(id)}`;
  // 204 No Content: the call resolves with nothing.
  const remove = async (path: string, o?: Signal): Promise<void> => {
    await request<undefined>("DELETE", path, 204, { signal: o?.signal });
  };

  const uploads: TroupeClient["uploads"] = {
    create: (input, o) => request<Upload>("POST", "/v1/uploads", 201, { json: input, signal: o?.signal }),
    delete: (id, o) => remove(`/v1/uploads/${encodeURIComponent(id)}`, o),
  };
  const subjects: TroupeClient["subjects"] = {
    create: (input, o) => request<Subject>("POST", "/v1/subjects", 201, { json: input, signal: o?.signal }),
    get: (id, o) => request<Subject>("GET", subjectById(id), 200, { signal: o?.signal }),
    list: (o) => request<SubjectList>("GET", "/v1/subjects", 200, { query: { limit: o?.limit, cursor: o?.cursor }, signal: o?.signal }),
    delete: (id, o) => remove(subjectById(id), o),
  };
  const generations: TroupeClient["generations"] = {
    async create(input, o) {
      const wait = o?.wait === undefined ? undefined : Math.max(1, Math.min(MAX_WAIT_S, Math.ceil(o.wait)));
      const headers = { "idempotency-key": o?.idempotencyKey, prefer: wait === undefined ? undefined : `wait=${wait}` };
      // A finished job answers 200 in synchronous mode, a pending one 202: both are the job.
      return request<Job>("POST", "/v1/generations", [200, 202], { json: input, headers, signal: o?.signal });
    },
    get: (id, o) => request<Job>("GET", byId(id), 200, { signal: o?.signal }),
    list: (o) => request<JobPage>("GET", "/v1/generations", 200, { query: { limit: o?.limit, cursor: o?.cursor }, signal: o?.signal }),
    cancel: (id) => request<Job>("POST", `${byId(id)}/cancel`, 202),
    deliveries: (id, o) => request<DeliveryList>("GET", `${byId(id)}/deliveries`, 200, { signal: o?.signal }),
    redeliver: (id) => request<Redelivery>("POST", `${byId(id)}/deliveries/redeliver`, 202),
    delete: (id, o) => remove(byId(id), o),
  };
  const upload: TroupeClient["uploadFile"] = (file, contentType, o) => uploadFile({ createUpload: uploads.create, fetch: http }, file, contentType, o?.signal);

  return {
    uploads,
    uploadFile: upload,
    generations,
    subjects,
    usage: (o) => request<Usage>("GET", "/v1/usage", 200, { signal: o?.signal }),
    webhookSecret: {
      get: (o) => request<WebhookSecret>("GET", "/v1/webhook-secret", 200, { signal: o?.signal }),
      rotate: () => request<WebhookSecret>("POST", "/v1/webhook-secret/rotate", 200),
    },
    run: (input, o) => runGeneration({ ...generations, uploadFile: (f, t, s) => upload(f, t, { signal: s }), sleep }, input, o),
    request,
  };
}
