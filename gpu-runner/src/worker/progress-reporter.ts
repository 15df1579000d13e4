import type { JobStore } from "@troupe/shared/records/jobs";
import type { Progress } from "../pipeline/types.ts";

export interface ProgressReporterOptions {
  jobs: JobStore;
  tenantId: string;
  jobId: string;
  /** Minimum time between progress writes. */
  intervalMs: number;
  /**
   * Called once when the record says a cancel was requested, or is no longer `running` (DELETE ended
   * it `canceled` and scrubbed it in one write, or it ended elsewhere): either way the job stops.
   */
  onCancelRequested: () => void;
  onError: (e: unknown) => void;
}

/**
 * Writes progress at most once per interval and, with the same write, learns whether a cancel was
 * requested: the update returns the record, so observing cancels costs no extra read.
 */
export class ProgressReporter {
  private lastWrite = 0;
  private pending: Promise<void> = Promise.resolve();
  private canceled = false;
  /** The last step the pipeline reached (written or not), for the log of a stopped job. */
  lastStep = 0;

  constructor(private readonly options: ProgressReporterOptions) {}

  report(progress: Progress, force = false): void {
    this.lastStep = progress.step;
    const now = Date.now();
    if (!force && now - this.lastWrite < this.options.intervalMs) return;
    this.lastWrite = now;
    this.pending = this.pending.then(() => this.write(progress));
  }

  /** Waits for writes in flight (before the final transition, so progress never lands after it). */
  flush(): Promise<void> {
    return this.pending;
  }

  private async write(progress: Progress): Promise<void> {
    const { jobs, tenantId, jobId } = this.options;
    try {
      const record = await jobs.patchIf(tenantId, jobId, "running", { progress });
      // null: the write's condition (`running`) failed; whatever the job became, this run's result could not be stored.
      if ((!record || record.cancelRequested) && !this.canceled) {
        this.canceled = true;
        this.options.onCancelRequested();
      }
    } catch (e) {
      this.options.onError(e);
    }
  }
}
