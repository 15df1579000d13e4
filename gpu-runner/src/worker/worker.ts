import { ReceiveMessageCommand } from "@aws-sdk/client-sqs";
import { DISPATCH_LEASE_MS, redispatchPending } from "@troupe/shared/jobs/dispatch";
import type { WorkerDeps } from "./deps.ts";
import { sweepDeadLetters } from "./dlq-sweeper.ts";
import { handleMessage } from "./handle-message.ts";

export interface WorkerOptions {
  waitTimeS: number;
  /** How often this worker sweeps the DLQ and re-sends undispatched jobs. */
  sweepIntervalMs: number;
  /** After a stop request, how long the current job may run on before it is released. */
  shutdownGraceMs: number;
}

/**
 * One job at a time: long-poll, run, repeat. `stop()` stops receiving at once, lets the current
 * job finish within the grace period, then aborts it (its message becomes visible again at once).
 */
export class Worker {
  private readonly stopping = new AbortController();
  private readonly shutdown = new AbortController();
  private loop: Promise<void> | null = null;
  private lastSweep = 0;

  constructor(
    private readonly deps: WorkerDeps,
    private readonly options: WorkerOptions,
  ) {}

  start(): void {
    this.loop ??= this.run();
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    const grace = setTimeout(() => this.shutdown.abort(), this.options.shutdownGraceMs);
    try {
      await this.loop;
    } finally {
      clearTimeout(grace);
    }
  }

  private async run(): Promise<void> {
    const { deps } = this;
    while (!this.stopping.signal.aborted) {
      try {
        await this.sweepIfDue();
        const out = await deps.clients.sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: deps.queueUrl,
            MaxNumberOfMessages: 1,
            WaitTimeSeconds: this.options.waitTimeS,
            VisibilityTimeout: deps.visibilityTimeoutS,
            MessageSystemAttributeNames: ["ApproximateReceiveCount"],
          }),
          { abortSignal: this.stopping.signal },
        );
        for (const message of out.Messages ?? []) {
          await deps.protection.set(true);
          try {
            await handleMessage(deps, message, this.shutdown.signal);
          } finally {
            await deps.protection.set(false);
          }
        }
      } catch (e) {
        if (this.stopping.signal.aborted) break;
        deps.log("worker_error", { error: e instanceof Error ? e.message : String(e) });
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
    deps.log("worker_stopped");
  }

  private async sweepIfDue(): Promise<void> {
    if (Date.now() - this.lastSweep < this.options.sweepIntervalMs) return;
    this.lastSweep = Date.now();
    const dead = await sweepDeadLetters(this.deps, this.stopping.signal);
    // Jobs whose API request died between writing the record and sending the message.
    const resent = await redispatchPending({ sqs: this.deps.clients.sqs, queueUrl: this.deps.queueUrl, jobs: this.deps.jobs }, { minAgeMs: DISPATCH_LEASE_MS });
    if (dead || resent.length) this.deps.log("swept", { dead, resent });
  }
}
