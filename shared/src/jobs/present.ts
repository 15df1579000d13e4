import { GetObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import type { Job } from "../contracts/generation.ts";
import { safetyPolicyOf } from "../contracts/safety.ts";
import type { JobRecord } from "../records/jobs.ts";
import { estimateQueue, type QueueStats } from "./queue-estimate.ts";

export interface PresentOptions {
  s3: S3Client;
  bucket: string;
  /** Presigned GET lifetime. */
  urlTtlS: number;
  now?: number;
  /** Cached queue depth and pace for `queue` estimates; without them a queued job's times are null. */
  queueStats?: QueueStats | undefined;
}

/**
 * A job record as the public job object (DESIGN §2). Output URLs are presigned GETs minted on
 * every read, so a poll or a webhook always carries URLs that work for `urlTtlS` from then.
 */
export async function presentJob(record: JobRecord, options: PresentOptions): Promise<Job> {
  const expiresAt = new Date((options.now ?? Date.now()) + options.urlTtlS * 1000).toISOString();
  const sign = (key: string) =>
    getSignedUrl(options.s3, new GetObjectCommand({ Bucket: options.bucket, Key: key }), { expiresIn: options.urlTtlS });
  return {
    id: record.id,
    status: record.status,
    createdAt: record.createdAt,
    startedAt: record.startedAt ?? null,
    finishedAt: record.finishedAt ?? null,
    progress: record.progress,
    input: record.spec,
    outputs: await Promise.all(
      (record.outputs ?? []).map(async (o) => ({
        // a withheld image was never stored: no URL to sign
        url: o.withheld ? null : await sign(o.key),
        expiresAt: o.withheld ? null : expiresAt,
        width: o.width,
        height: o.height,
        contentType: "image/png" as const,
        safety: o.safety ?? null,
        withheld: o.withheld !== undefined,
        reason: o.withheld ?? null,
      })),
    ),
    safetyPolicy: safetyPolicyOf(record),
    attentionMaps: await Promise.all((record.attentionMaps ?? []).map(async (m) => ({ subject: m.subject, url: await sign(m.key), expiresAt }))),
    error: record.error ?? null,
    metrics: {
      queueMs: record.metrics?.queueMs ?? null,
      inferenceMs: record.metrics?.inferenceMs ?? null,
      gpuSeconds: record.metrics?.gpuSeconds ?? null,
    },
    cancelRequested: record.cancelRequested ?? false,
    queue: estimateQueue(record, options.queueStats, options.now ?? Date.now()),
  };
}
