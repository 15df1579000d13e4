import { BatchGetCommand, type BatchGetCommandOutput, type DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { TERMINAL_STATUSES } from "@troupe/shared/contracts/generation";
import type { JobRecord } from "@troupe/shared/records/jobs";

export interface JobWaiterOptions {
  ddb: DynamoDBDocumentClient;
  table: string;
  /** First re-read of a job after it is registered. @default 100 */
  firstDelayMs?: number;
  /** Each later re-read of the same job waits this much longer… @default 1.5 */
  backoff?: number;
  /** …up to this. @default 1000 */
  maxDelayMs?: number;
  /** A tick also reads the jobs due within this much after it, so jobs registered a moment apart share reads. @default 25 */
  coalesceMs?: number;
  now?: () => number;
}

interface Waiter {
  tenantId: string;
  id: string;
  deadline: number;
  nextAt: number;
  delayMs: number;
  latest: JobRecord;
  resolve(record: JobRecord): void;
}

/** BatchGetItem reads at most 100 keys per call. */
const BATCH = 100;

/**
 * `Prefer: wait=N` without a busy loop per request: one poller per process. Every waiting request
 * registers its job; a single timer wakes at the earliest due job, reads every due job in one
 * BatchGetItem (strongly consistent), settles the finished ones and reschedules the others with
 * backoff (100 ms, ×1.5, capped at 1 s). Requests waiting on the same job share its read. With
 * nothing waiting, no timer runs. Load on the jobs table: at most one batch read per tick, whatever
 * the number of waiting requests, and per job ≤ 1 read per second once the backoff has grown.
 */
export class JobWaiter {
  private readonly waiters = new Set<Waiter>();
  private timer: ReturnType<typeof setTimeout> | undefined;
  private timerAt = Infinity;
  private reading = false;
  private readonly now: () => number;

  constructor(private readonly options: JobWaiterOptions) {
    this.now = options.now ?? Date.now;
  }

  /** Resolves with the job once it is terminal, or with the latest read of it after `timeoutMs`. */
  wait(record: JobRecord, timeoutMs: number): Promise<JobRecord> {
    if (TERMINAL_STATUSES.includes(record.status) || timeoutMs <= 0) return Promise.resolve(record);
    return new Promise((resolve) => {
      const delayMs = this.options.firstDelayMs ?? 100;
      const now = this.now();
      this.waiters.add({ tenantId: record.tenantId, id: record.id, deadline: now + timeoutMs, nextAt: now + delayMs, delayMs, latest: record, resolve });
      this.schedule();
    });
  }

  /** How many requests are waiting (for tests and metrics). */
  get size(): number {
    return this.waiters.size;
  }

  private settle(w: Waiter, record: JobRecord) {
    this.waiters.delete(w);
    w.resolve(record);
  }

  /** One timer for the whole process, set for the earliest due read or deadline. */
  private schedule() {
    if (this.reading) return;
    let at = Infinity;
    for (const w of this.waiters) at = Math.min(at, w.nextAt, w.deadline);
    if (at === Infinity) {
      clearTimeout(this.timer);
      this.timer = undefined;
      this.timerAt = Infinity;
      return;
    }
    if (this.timer && at >= this.timerAt) return;
    clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(() => void this.tick(), Math.max(0, at - this.now()));
    // A waiting request keeps the process busy anyway; the timer alone must not.
    this.timer.unref?.();
  }

  private async tick() {
    this.timer = undefined;
    this.timerAt = Infinity;
    this.reading = true;
    try {
      const now = this.now();
      for (const w of this.waiters) if (w.deadline <= now) this.settle(w, w.latest);
      const soon = now + (this.options.coalesceMs ?? 25);
      const due = [...this.waiters].filter((w) => w.nextAt <= soon);
      if (due.length) await this.read(due);
    } finally {
      this.reading = false;
      this.schedule();
    }
  }

  private async read(due: Waiter[]) {
    const keys = new Map<string, { tenantId: string; id: string }>();
    for (const w of due) keys.set(`${w.tenantId}/${w.id}`, { tenantId: w.tenantId, id: w.id });
    const found = new Map<string, JobRecord>();
    const all = [...keys.values()];
    try {
      for (let i = 0; i < all.length; i += BATCH) {
        let request: Record<string, { Keys: Record<string, unknown>[]; ConsistentRead: boolean }> | undefined = {
          [this.options.table]: { Keys: all.slice(i, i + BATCH), ConsistentRead: true },
        };
        // Unprocessed keys (throttling) are read again at once; the backoff below covers the rest.
        for (let round = 0; request && round < 3; round++) {
          const out: BatchGetCommandOutput = await this.options.ddb.send(new BatchGetCommand({ RequestItems: request }));
          for (const item of (out.Responses?.[this.options.table] ?? []) as JobRecord[]) found.set(`${item.tenantId}/${item.id}`, item);
          const left: { Keys?: Record<string, unknown>[] } | undefined = out.UnprocessedKeys?.[this.options.table];
          request = left?.Keys?.length ? { [this.options.table]: { Keys: left.Keys, ConsistentRead: true } } : undefined;
        }
      }
    } catch {
      // A failed read is retried on the next tick; the request still answers by its deadline.
    }
    const now = this.now();
    for (const w of due) {
      const record = found.get(`${w.tenantId}/${w.id}`);
      if (record) w.latest = record;
      if (record && (TERMINAL_STATUSES.includes(record.status) || record.deletedAt)) {
        this.settle(w, record);
        continue;
      }
      w.delayMs = Math.min(this.options.maxDelayMs ?? 1000, w.delayMs * (this.options.backoff ?? 1.5));
      w.nextAt = now + w.delayMs;
    }
  }
}
