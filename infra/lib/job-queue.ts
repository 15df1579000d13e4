import { Duration } from "aws-cdk-lib";
import * as sqs from "aws-cdk-lib/aws-sqs";
import { Construct } from "constructs";
import { assertValid, integerIn } from "./validate-props.ts";

export interface JobQueueProps {
  /**
   * Deliveries before a message moves to the DLQ (DESIGN.md §3: the job then ends `failed`).
   * @default 3
   */
  readonly maxReceiveCount?: number;
  /**
   * Visibility timeout of the jobs queue. The runner extends it by heartbeat while it works, so this
   * is what a crashed runner costs: the message reappears after it. Keep it above the longest job.
   * @default Duration.minutes(15)
   */
  readonly visibilityTimeout?: Duration;
  /**
   * How long an unprocessed job message is kept.
   * @default Duration.days(4)
   */
  readonly retentionPeriod?: Duration;
}

export const DEFAULT_MAX_RECEIVE_COUNT = 3;
export const DEFAULT_VISIBILITY_TIMEOUT = Duration.minutes(15);
/** The longest SQS allows, so a DLQ sweeper that was down for a while still finds every message. */
export const DLQ_RETENTION = Duration.days(14);

/** The jobs queue and its dead-letter queue, both encrypted (SSE-SQS) and TLS-only. */
export class JobQueue extends Construct {
  public readonly queue: sqs.Queue;
  public readonly deadLetterQueue: sqs.Queue;

  constructor(scope: Construct, id: string, props: JobQueueProps = {}) {
    super(scope, id);
    assertValid("JobQueue", [
      integerIn("maxReceiveCount", props.maxReceiveCount, 1, 1000),
      integerIn("visibilityTimeout (seconds)", props.visibilityTimeout?.toSeconds(), 60, 43_200),
      integerIn("retentionPeriod (seconds)", props.retentionPeriod?.toSeconds(), 60, DLQ_RETENTION.toSeconds()),
    ]);

    this.deadLetterQueue = new sqs.Queue(this, "DeadLetterQueue", {
      retentionPeriod: DLQ_RETENTION,
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
    });
    this.queue = new sqs.Queue(this, "Queue", {
      visibilityTimeout: props.visibilityTimeout ?? DEFAULT_VISIBILITY_TIMEOUT,
      retentionPeriod: props.retentionPeriod ?? Duration.days(4),
      // Long polling by default, so a runner's idle ReceiveMessage loop costs few requests.
      receiveMessageWaitTime: Duration.seconds(20),
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      deadLetterQueue: {
        queue: this.deadLetterQueue,
        maxReceiveCount: props.maxReceiveCount ?? DEFAULT_MAX_RECEIVE_COUNT,
      },
    });
  }
}
