/**
 * The wire contract of the Troupe API v1 (DESIGN §2), written out so the package stands alone: no
 * server code, no zod, no Hono. `test/client/wire-types.test.ts` checks each type equals what the
 * server's own zod schemas accept or produce, so the two cannot drift.
 */

export type UploadContentType = "image/jpeg" | "image/png" | "image/webp";

/** `POST /v1/uploads` body. */
export interface CreateUploadInput {
  contentType: UploadContentType;
  /** 1..10 MiB; the presigned PUT must carry exactly this many bytes. */
  contentLength: number;
}

/** `201` of `POST /v1/uploads`: PUT the bytes to `uploadUrl` with `headers` before `expiresAt`. */
export interface Upload {
  id: string;
  uploadUrl: string;
  method: "PUT";
  headers: Record<string, string>;
  expiresAt: string;
}

/** Normalized region `[x0, y0, x1, y1]` in 0..1, x0 < x1, y0 < y1. */
export type Box = [number, number, number, number];

export type Scheduler = "pndm" | "ddim" | "euler" | "dpmpp-2m";

/** One reference image per `img` token, in prompt order: exactly one of `uploadId`, `subjectId` or `imageUrl`. */
export interface SubjectInput {
  /** `upl_…` from `POST /v1/uploads`. */
  uploadId?: string | undefined;
  /** `sub_…` from `POST /v1/subjects` (its embedding is cached). */
  subjectId?: string | undefined;
  /**
   * An https URL of a JPEG, PNG or WebP (≤ 10 MiB, public host): the API fetches it once and keeps it as
   * an upload of this key; the job's `input` then holds that `uploadId`.
   */
  imageUrl?: string | undefined;
  box?: Box | undefined;
}

/**
 * `POST /v1/subjects` body: exactly one of `uploadId` (a finished upload of this key) or `imageUrl` (an
 * https URL the API fetches once under the job subjects' rules and keeps as an upload of this key).
 */
export type CreateSubjectInput = { uploadId: string; imageUrl?: undefined } | { imageUrl: string; uploadId?: undefined };

/**
 * A reusable subject (`sub_…`): its own copy of the photo, which jobs reference as `{subjectId}`; its image
 * embedding is computed once per model bundle and cached. It does not expire: delete it when done.
 */
export interface Subject {
  id: string;
  contentType: UploadContentType;
  contentLength: number;
  /** The upload the photo came from; for an `imageUrl`, the upload it was kept as. */
  source: { uploadId: string };
  createdAt: string;
}

/** `GET /v1/subjects`: newest first. */
export interface SubjectList {
  data: Subject[];
  nextCursor: string | null;
}

/** `POST /v1/generations` body; the API fills in the defaults in brackets. */
export interface CreateGenerationInput {
  /** ≤ 1000 characters; one standalone word `img` after each subject word. */
  prompt: string;
  /** [""] */
  negativePrompt?: string | undefined;
  subjects: SubjectInput[];
  /** 1..4 [1] */
  numImages?: number | undefined;
  /** 1..150 [50] */
  steps?: number | undefined;
  /** 1..20 [5] */
  guidanceScale?: number | undefined;
  /** 0..1 [0.7]: the fraction of steps that see the subject embeddings. */
  alpha?: number | undefined;
  /** [pndm] */
  scheduler?: Scheduler | undefined;
  /** 0..2^32-1 [random, reported back in `input.seed`] */
  seed?: number | undefined;
  /** [the model's default], within its sizes. */
  width?: number | undefined;
  height?: number | undefined;
  /** https only (http and loopback in local mode); signed per Standard Webhooks. */
  webhookUrl?: string | undefined;
  /** [true]; false: the uploads this job uses are deleted when it ends (stored subjects are kept). */
  retainInputs?: boolean | undefined;
}

/** The normalized request of a job: every default filled in, the seed actually used. */
export interface GenerationSpec {
  prompt: string;
  negativePrompt: string;
  subjects: { uploadId?: string | undefined; subjectId?: string | undefined; box?: Box | undefined }[];
  numImages: number;
  steps: number;
  guidanceScale: number;
  alpha: number;
  scheduler: Scheduler;
  seed: number;
  width: number;
  height: number;
  webhookUrl?: string | undefined;
  /** Absent or true: the uploads are kept; false: deleted when the job ends. */
  retainInputs?: boolean | undefined;
}

export type JobStatus = "queued" | "running" | "succeeded" | "failed" | "canceled";

/** What a key's safety policy does with an image the safety checker flags (set by the operator with the keys CLI). */
export type SafetyPolicy = "block" | "flag" | "off";

export interface JobOutput {
  /** Presigned GET, minted on every read; null when the image was withheld (never stored). */
  url: string | null;
  expiresAt: string | null;
  width: number;
  height: number;
  contentType: "image/png";
  /** The safety checker's verdict; null when not checked (policy `off`). */
  safety: { flagged: boolean } | null;
  /** Policy `block` kept a flagged image out of storage: `url` is null and `reason` says why. */
  withheld: boolean;
  reason: "safety" | null;
}

export interface AttentionMap {
  subject: number;
  url: string;
  expiresAt: string;
}

/** The public job object (DESIGN §2). */
export interface Job {
  id: string;
  status: JobStatus;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  /** totalSteps = steps × numImages. */
  progress: { step: number; totalSteps: number };
  input: GenerationSpec;
  outputs: JobOutput[];
  attentionMaps: AttentionMap[];
  error: { code: string; message: string } | null;
  metrics: { queueMs: number | null; inferenceMs: number | null; gpuSeconds: number | null };
  cancelRequested: boolean;
  /** The key's safety policy when the job was submitted, which the runner applied. */
  safetyPolicy: SafetyPolicy;
  /** Estimates while the job is queued or running; null once it finished. */
  queue: QueueEstimate | null;
}

/**
 * Estimates, not promises: `position` is this job's place among the waiting jobs (1 = next, 0 once
 * running); the times come from the queue depth and the runners' recent per-step times.
 */
export interface QueueEstimate {
  position: number;
  estimatedStartAt: string | null;
  estimatedFinishAt: string | null;
}

/** `GET /v1/generations`: newest first. */
export interface JobPage {
  data: Job[];
  nextCursor: string | null;
}

/** `GET /v1/usage`: this key's current period. */
export interface Usage {
  period: string;
  images: { used: number; limit: number; reserved: number };
  gpuSeconds: { used: number };
  jobs: { submitted: number; succeeded: number; failed: number; canceled: number };
  /** The key's policy, and of `images.used` how many the checker flagged and how many of those were withheld (all billed). */
  safety: { policy: SafetyPolicy; flagged: number; withheld: number };
}

export interface WebhookSecret {
  secret: string;
}

/** One attempt to POST a job's terminal event to its webhookUrl. */
export interface Delivery {
  at: string;
  /** 1-based within its delivery (the original or one redelivery). */
  attempt: number;
  /** 0 for the original delivery, n for the n-th redelivery. */
  redelivery: number;
  /** The receiver's HTTP status; null when no response came. */
  status: number | null;
  durationMs: number;
  error: string | null;
}

/** `GET /v1/generations/{id}/deliveries`. */
export interface DeliveryList {
  data: Delivery[];
  event: "succeeded" | "failed" | "canceled" | null;
  webhookId: string | null;
  /** pending: more attempts scheduled; delivered: a 2xx came back; failed: the schedule ran out. */
  state: "pending" | "delivered" | "failed" | null;
  nextAttemptAt: string | null;
}

/** `POST /v1/generations/{id}/deliveries/redeliver` (202). */
export interface Redelivery {
  webhookId: string;
  event: "succeeded" | "failed" | "canceled";
  redelivery: number;
}

/** Every error body: `{error: {code, message, details?, requestId}}`. */
export interface ApiErrorBody {
  error: { code: string; message: string; details?: unknown; requestId: string };
}

export const TERMINAL: readonly JobStatus[] = ["succeeded", "failed", "canceled"];
export const isTerminal = (job: Pick<Job, "status">): boolean => TERMINAL.includes(job.status);
