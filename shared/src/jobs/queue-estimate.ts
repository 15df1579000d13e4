import type { QueueEstimate } from "../contracts/generation.ts";
import type { JobRecord } from "../records/jobs.ts";
import { megapixels } from "../records/pace.ts";

/** What the estimates are made from: cached, never read per poll (functions/src/services/queue-stats.ts). */
export interface QueueStats {
  /** Messages waiting (SQS ApproximateNumberOfMessages). */
  waiting: number;
  /** Messages being worked on (ApproximateNumberOfMessagesNotVisible). */
  inFlight: number;
  /** Runners' mean ms per progress step per megapixel; null when unknown. */
  msPerStepMpx: number | null;
  /** Runners working lately (≥ 1). */
  runners: number;
}

const iso = (ms: number) => new Date(Math.round(ms)).toISOString();

/**
 * Estimates, not promises (DESIGN §2 `queue`), from the queue depth and recent per-step times:
 *
 * - queued: `position` = the jobs waiting, this one counted last (SQS keeps no order we could read, so
 *   it is an upper bound); the start is when the runners should have worked off the jobs ahead and
 *   half of the running ones, each costed like this job; the finish adds this job's own run.
 * - running: `position` 0; the finish is the job's own pace so far (or the runners' pace before the
 *   first step is written) times the steps left.
 * - finished: null.
 */
export function estimateQueue(record: JobRecord, stats: QueueStats | undefined, now: number): QueueEstimate | null {
  if (record.status !== "queued" && record.status !== "running") return null;
  const mpx = megapixels(record.spec.width, record.spec.height);
  const { step, totalSteps } = record.progress;
  const perStepMs = stats?.msPerStepMpx == null ? null : stats.msPerStepMpx * mpx;

  if (record.status === "running") {
    const startedAt = record.startedAt ? Date.parse(record.startedAt) : null;
    const ownPace = startedAt !== null && step > 0 ? (now - startedAt) / step : null;
    const pace = ownPace ?? perStepMs;
    return {
      position: 0,
      estimatedStartAt: record.startedAt ?? null,
      estimatedFinishAt: pace === null ? null : iso(now + pace * Math.max(0, totalSteps - step)),
    };
  }

  const position = Math.max(1, stats?.waiting ?? 1);
  if (perStepMs === null || !stats) return { position, estimatedStartAt: null, estimatedFinishAt: null };
  const jobMs = perStepMs * totalSteps;
  const runners = Math.max(1, stats.runners);
  const aheadMs = (position - 1) * jobMs + stats.inFlight * (jobMs / 2);
  const startAt = now + aheadMs / runners;
  return { position, estimatedStartAt: iso(startAt), estimatedFinishAt: iso(startAt + jobMs) };
}
