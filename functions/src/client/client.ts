import { hc, type ClientResponse } from "hono/client";
import type { AppType } from "../app.ts";
import { errorFromResponse, errorFromThrown } from "./errors.ts";
import { retryingFetch, sleep as realSleep, type RetryOptions, type Sleep } from "./retry-fetch.ts";
import { runGeneration } from "./run.ts";
import { uploadFile, type FileInput } from "./upload-file.ts";
import type {
  ApiClient,
  CreateGenerationInput,
  CreateGenerationOptions,
  CreateUploadInput,
  Job,
  JobPage,
  ListGenerationsOptions,
  RunOptions,
  Upload,
  UploadContentType,
  Usage,
  WebhookSecret,
} from "./types.ts";

export interface TroupeClientOptions {
  /** e.g. `https://api.example.com` or the local stack's `http://127.0.0.1:8787`. */
  baseUrl: string;
  apiKey: string;
  /** @default globalThis.fetch */
  fetch?: typeof fetch;
  /** Retries of safe requests (GETs, PUTs, creates with an Idempotency-Key). @default 3 */
  maxRetries?: number;
  /** @default 500 */
  retryBaseMs?: number;
  /** How the client waits between retries and polls; tests inject one to observe the waits. */
  sleep?: Sleep;
  onRetry?: RetryOptions["onRetry"];
}

type Signal = { signal?: AbortSignal };

export interface TroupeClient {
  uploads: { create(input: CreateUploadInput, options?: Signal): Promise<Upload> };
  /** Creates an upload and PUTs the bytes to it; the content type is read from the magic bytes when omitted. */
  uploadFile(file: FileInput, contentType?: UploadContentType, options?: Signal): Promise<Upload>;
  generations: {
    create(input: CreateGenerationInput, options?: CreateGenerationOptions): Promise<Job>;
    get(id: string, options?: Signal): Promise<Job>;
    list(options?: ListGenerationsOptions & Signal): Promise<JobPage>;
    cancel(id: string): Promise<Job>;
  };
  usage(options?: Signal): Promise<Usage>;
  webhookSecret: { get(options?: Signal): Promise<WebhookSecret>; rotate(): Promise<WebhookSecret> };
  /** Submit, follow progress, resolve with the succeeded job (DESIGN §2 job object). */
  run(input: CreateGenerationInput, options?: RunOptions): Promise<Job>;
  /** The underlying typed Hono client, for anything the methods above do not cover. */
  api: ApiClient;
}

type BodyOf<R, S extends number> = R extends ClientResponse<infer T, infer C, infer _F> ? (C extends S ? T : never) : never;

/** Resolves with the body of the expected status; anything else becomes a TroupeError with the API's code. */
async function expectStatus<R extends ClientResponse<unknown, number>, S extends number>(request: Promise<R>, status: S): Promise<BodyOf<R, S>> {
  let res: R;
  try {
    res = await request;
  } catch (e) {
    throw errorFromThrown(e);
  }
  if (res.status !== status) throw await errorFromResponse(res as unknown as Response);
  return (await res.json()) as BodyOf<R, S>;
}

const init = (o?: Signal) => (o?.signal ? { init: { signal: o.signal } } : undefined);

export function createTroupeClient(options: TroupeClientOptions): TroupeClient {
  const sleep = options.sleep ?? realSleep;
  const http = retryingFetch({
    fetch: options.fetch ?? globalThis.fetch,
    maxRetries: options.maxRetries,
    retryBaseMs: options.retryBaseMs,
    sleep,
    onRetry: options.onRetry,
  });
  const api = hc<AppType>(options.baseUrl, { fetch: http, headers: { authorization: `Bearer ${options.apiKey}` } });
  const byId = (id: string) => ({ param: { id } });

  const uploads: TroupeClient["uploads"] = {
    create: (input, o) => expectStatus(api.v1.uploads.$post({ json: input }, init(o)), 201),
  };
  const generations: TroupeClient["generations"] = {
    create: (input, o) => expectStatus(api.v1.generations.$post({ json: input, header: { "idempotency-key": o?.idempotencyKey } }, init(o)), 202),
    get: (id, o) => expectStatus(api.v1.generations[":id"].$get(byId(id), init(o)), 200),
    list: (o) =>
      expectStatus(api.v1.generations.$get({ query: { limit: o?.limit === undefined ? undefined : String(o.limit), cursor: o?.cursor } }, init(o)), 200),
    cancel: (id) => expectStatus(api.v1.generations[":id"].cancel.$post(byId(id)), 202),
  };

  return {
    api,
    uploads,
    uploadFile: (file, contentType, o) => uploadFile({ createUpload: uploads.create, fetch: http }, file, contentType, o?.signal),
    generations,
    usage: (o) => expectStatus(api.v1.usage.$get(undefined, init(o)), 200),
    webhookSecret: {
      get: (o) => expectStatus(api.v1["webhook-secret"].$get(undefined, init(o)), 200),
      rotate: () => expectStatus(api.v1["webhook-secret"].rotate.$post(), 200),
    },
    run: (input, o) => runGeneration({ ...generations, sleep }, input, o),
  };
}
