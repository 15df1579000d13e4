import { z } from "zod";
import { DEFAULT_WEBHOOK_SCHEDULE, parseSchedule } from "./webhooks/schedule.ts";

/**
 * Environment → typed config, shared by the API and the runner (DESIGN §6).
 * Every variable is documented in the README; a bad value fails at start naming the variable.
 */
const bool = z.enum(["true", "false", "1", "0"]).transform((v) => v === "true" || v === "1");
const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

export const ResourceConfigSchema = z.object({
  AWS_REGION: z.string().min(1).default("us-east-1"),
  TROUPE_BUCKET: z.string().min(3).default("troupe-local"),
  TROUPE_QUEUE_URL: z.string().min(1).optional(),
  TROUPE_DLQ_URL: z.string().min(1).optional(),
  TROUPE_QUEUE_NAME: z.string().min(1).default("troupe-jobs"),
  TROUPE_KEYS_TABLE: z.string().min(3).default("troupe-keys"),
  TROUPE_JOBS_TABLE: z.string().min(3).default("troupe-jobs"),
  TROUPE_USAGE_TABLE: z.string().min(3).default("troupe-usage"),
  /** Model bundle: a local folder or an s3://bucket/prefix. */
  TROUPE_BUNDLE: z.string().min(1).default("models/tiny"),
  /** Local stack only: emulator endpoints. Unset in AWS. */
  TROUPE_S3_ENDPOINT: z.url().optional(),
  TROUPE_SQS_ENDPOINT: z.url().optional(),
  TROUPE_DYNAMODB_ENDPOINT: z.url().optional(),
  /** Local mode allows http and loopback webhook URLs. */
  TROUPE_LOCAL_MODE: bool.default(false),
  /** The webhooks queue (one message per pending delivery); found by name when the URL is unset. */
  TROUPE_WEBHOOK_QUEUE_URL: z.string().min(1).optional(),
  TROUPE_WEBHOOK_QUEUE_NAME: z.string().min(1).default("troupe-webhooks"),
});

export const ApiConfigSchema = ResourceConfigSchema.extend({
  PORT: int(0, 65535).default(8787),
  /** Node server bind address (local use; Lambda ignores it). */
  HOST: z.string().min(1).default("127.0.0.1"),
  TROUPE_UPLOAD_URL_TTL_S: int(60, 7 * 24 * 3600).default(900),
  TROUPE_OUTPUT_URL_TTL_S: int(60, 7 * 24 * 3600).default(3600),
  TROUPE_DEFAULT_MONTHLY_IMAGES: int(0, 10_000_000).default(1000),
  TROUPE_DEFAULT_RATE_PER_MINUTE: int(1, 100_000).default(120),
  /** How long a verified key's record is trusted in memory: a revocation takes effect within it. 0 = no cache. */
  TROUPE_KEY_CACHE_TTL_MS: int(0, 300_000).default(30_000),
  /** Rate limit: hits an instance admits before it adds them to the shared counter (also its tolerance, see README). */
  TROUPE_RATE_SYNC_BATCH: int(1, 1000).default(10),
  /** Rate limit: fewer hits than a batch are added to the shared counter after at most this long. */
  TROUPE_RATE_SYNC_INTERVAL_MS: int(10, 60_000).default(1000),
  /** Open connections per AWS client (keep-alive): ≥ concurrent requests × parallel calls per request. */
  TROUPE_HTTP_MAX_SOCKETS: int(1, 10_000).default(128),
  /** After a rotation the old webhook secret keeps signing beside the new one this long. */
  TROUPE_WEBHOOK_SECRET_OVERLAP_S: int(0, 30 * 24 * 3600).default(24 * 3600),
});

export const RunnerConfigSchema = ResourceConfigSchema.extend({
  TROUPE_EXECUTION_PROVIDER: z.enum(["cpu", "cuda", "webgpu"]).default("cpu"),
  TROUPE_VISIBILITY_TIMEOUT_S: int(2, 43_200).default(120),
  TROUPE_PROGRESS_INTERVAL_MS: int(50, 60_000).default(1000),
  TROUPE_SWEEP_INTERVAL_S: int(1, 3600).default(30),
  TROUPE_SHUTDOWN_GRACE_S: int(0, 3600).default(30),
  /**
   * A job message whose record is missing is kept this long after it was sent (the API sends the
   * message, then writes the record in its next call): past it the record is not coming, and the
   * message is dropped. Keep it above the API's request timeout (the Lambda's 75 s as deployed) and
   * a few seconds of clock skew between API and runners; tests shorten it.
   */
  TROUPE_RECORD_GRACE_S: int(1, 3600).default(120),
  TROUPE_WAIT_TIME_S: int(0, 20).default(20),
  TROUPE_INTRA_OP_THREADS: int(0, 256).default(0),
});

/** The webhook sender (its Lambda, or the local stack's loop). */
export const WebhookSenderConfigSchema = ResourceConfigSchema.extend({
  /** Waits between attempts (attempts = entries + 1); tests shorten it. */
  TROUPE_WEBHOOK_SCHEDULE: z
    .string()
    .default(DEFAULT_WEBHOOK_SCHEDULE)
    .transform((text, ctx) => {
      try {
        return parseSchedule(text);
      } catch (e) {
        ctx.addIssue({ code: "custom", message: e instanceof Error ? e.message : String(e) });
        return z.NEVER;
      }
    }),
  TROUPE_WEBHOOK_TIMEOUT_MS: int(100, 60_000).default(10_000),
  TROUPE_WAIT_TIME_S: int(0, 20).default(20),
  TROUPE_SWEEP_INTERVAL_S: int(1, 3600).default(30),
  TROUPE_OUTPUT_URL_TTL_S: int(60, 7 * 24 * 3600).default(3600),
});

export type ResourceConfig = z.infer<typeof ResourceConfigSchema>;
export type WebhookSenderConfig = z.infer<typeof WebhookSenderConfigSchema>;
export type ApiConfig = z.infer<typeof ApiConfigSchema>;
export type RunnerConfig = z.infer<typeof RunnerConfigSchema>;

export class ConfigError extends Error {
  override readonly name = "ConfigError";
}

/** Parses `env` with `schema`; throws one ConfigError naming every bad variable. */
export function loadConfig<S extends z.ZodType>(schema: S, env: Record<string, string | undefined> = process.env): z.infer<S> {
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ""));
  const result = schema.safeParse(cleaned);
  if (result.success) return result.data;
  const problems = result.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
  throw new ConfigError(`Invalid configuration: ${problems.join("; ")}`);
}
