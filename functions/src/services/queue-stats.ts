import { GetQueueAttributesCommand, type SQSClient } from "@aws-sdk/client-sqs";
import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import type { QueueStats } from "@troupe/shared/jobs/queue-estimate";
import { PaceStore } from "@troupe/shared/records/pace";

export interface QueueStatsOptions {
  sqs: SQSClient;
  queueUrl: string;
  ddb: DynamoDBDocumentClient;
  usageTable: string;
  /** How long a queue depth is reused. @default 5000 */
  depthTtlMs?: number;
  /** How long the runners' pace is reused. @default 30000 */
  paceTtlMs?: number;
  now?: () => number;
  onError?: (e: unknown) => void;
}

interface Cached<T> {
  value: T | undefined;
  at: number;
  pending: Promise<T | undefined> | undefined;
}

/**
 * The inputs of the queue estimates, cached per process so a poll never waits on them once warm:
 * the queue depth (one GetQueueAttributes per 5 s) and the runners' pace (one small Query per 30 s, per 5 s
 * while unknown).
 * A stale value is served while one refresh runs in the background; only the very first call in a
 * process waits, and the route runs it in parallel with the job read. A failed refresh keeps the
 * last value (estimates degrade to null, never to an error).
 */
export class QueueStatsCache {
  private readonly depth: Cached<{ waiting: number; inFlight: number }> = { value: undefined, at: -Infinity, pending: undefined };
  private readonly pace: Cached<{ msPerStepMpx: number | null; runners: number }> = { value: undefined, at: -Infinity, pending: undefined };
  private readonly now: () => number;

  constructor(private readonly options: QueueStatsOptions) {
    this.now = options.now ?? Date.now;
  }

  async current(): Promise<QueueStats | undefined> {
    const [depth, pace] = await Promise.all([
      this.read(this.depth, this.options.depthTtlMs ?? 5000, () => this.readDepth()),
      // An unknown pace (no runner finished a job lately) is asked again as often as the depth: it is one small Query.
      this.read(this.pace, this.pace.value?.msPerStepMpx == null ? (this.options.depthTtlMs ?? 5000) : (this.options.paceTtlMs ?? 30_000), () =>
        PaceStore.summary(this.options.ddb, this.options.usageTable, this.now()),
      ),
    ]);
    if (!depth) return undefined;
    return { ...depth, msPerStepMpx: pace?.msPerStepMpx ?? null, runners: Math.max(1, pace?.runners ?? 1) };
  }

  private read<T>(cache: Cached<T>, ttlMs: number, load: () => Promise<T>): Promise<T | undefined> {
    const fresh = this.now() - cache.at < ttlMs;
    if (!fresh && !cache.pending) {
      cache.pending = load()
        .then((value) => {
          cache.value = value;
          cache.at = this.now();
          return value;
        })
        .catch((e: unknown) => {
          this.options.onError?.(e);
          cache.at = this.now(); // try again after the TTL, not on every poll
          return cache.value;
        })
        .finally(() => (cache.pending = undefined));
    }
    // Stale-while-revalidate: only a cold cache waits for the load.
    return cache.value !== undefined ? Promise.resolve(cache.value) : (cache.pending ?? Promise.resolve(undefined));
  }

  private async readDepth() {
    const out = await this.options.sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: this.options.queueUrl, AttributeNames: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"] }),
    );
    const n = (name: string) => Number(out.Attributes?.[name as keyof typeof out.Attributes] ?? 0) || 0;
    return { waiting: n("ApproximateNumberOfMessages"), inFlight: n("ApproximateNumberOfMessagesNotVisible") };
  }
}
