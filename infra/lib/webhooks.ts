import { Duration } from "aws-cdk-lib";
import * as events from "aws-cdk-lib/aws-events";
import * as targets from "aws-cdk-lib/aws-events-targets";
import * as iam from "aws-cdk-lib/aws-iam";
import * as lambda from "aws-cdk-lib/aws-lambda";
import { SqsEventSource } from "aws-cdk-lib/aws-lambda-event-sources";
import * as nodejs from "aws-cdk-lib/aws-lambda-nodejs";
import * as logs from "aws-cdk-lib/aws-logs";
import * as sqs from "aws-cdk-lib/aws-sqs";
import { Construct } from "constructs";
import { API_ARCHITECTURE, API_RUNTIME, defaultApiBundling } from "./api-defaults.ts";
import { DLQ_RETENTION } from "./job-queue.ts";
import { LOCK_FILE, REPO_ROOT, WEBHOOKS_ENTRY } from "./paths.ts";
import { sharedEnvironment, type RuntimeResources } from "./runtime-environment.ts";
import { OUTPUTS_PREFIX } from "./storage-defaults.ts";
import { assertValid, integerIn } from "./validate-props.ts";

export interface WebhooksProps extends RuntimeResources {
  /**
   * The TypeScript file exporting the sender's `handler` (tests point this at a fixture).
   * @default functions/src/handlers/webhooks-lambda.ts
   */
  readonly entry?: string;
  /**
   * Waits between attempts, as TROUPE_WEBHOOK_SCHEDULE (each at most 12 h, the SQS visibility limit).
   * @default - the sender's default, "5s,5m,30m,2h,5h,10h,10h"
   */
  readonly schedule?: string;
  /**
   * How often overdue deliveries (whose message was never sent or was lost) get a fresh message.
   * @default Duration.minutes(5)
   */
  readonly sweepInterval?: Duration;
  /**
   * Receives of one message before it moves to the DLQ. Each attempt and each early wake-up is one
   * receive; the sweeper re-sends a pending delivery whose message died, so this only bounds a poison loop.
   * @default 50
   */
  readonly maxReceiveCount?: number;
}

/** Lambda timeout: a batch of POSTs in parallel, each capped at 10 s by the sender. */
const SENDER_TIMEOUT = Duration.seconds(60);

/**
 * Durable webhook deliveries (DESIGN §2). Why SQS and not a DynamoDB outbox polled on a timer or
 * EventBridge Scheduler: the outbox already lives on the job record (written by the terminal
 * transition itself); what is missing is a wake-up at the right time that outlives any process.
 * An SQS message per pending delivery, hidden with ChangeMessageVisibility until its next attempt
 * (≤ 12 h per hop, enough for the schedule), is exactly that, costs nothing while idle, runs the same
 * way on fauxqs locally, and needs no per-delivery schedule resources to create and clean up.
 * A Lambda consumes it (partial batch failures keep deferred messages); an EventBridge rule
 * invokes the same Lambda every few minutes to re-send messages for overdue deliveries.
 */
export class Webhooks extends Construct {
  public readonly queue: sqs.Queue;
  public readonly deadLetterQueue: sqs.Queue;
  public readonly function: nodejs.NodejsFunction;
  public readonly sweepRule: events.Rule;

  constructor(scope: Construct, id: string, props: WebhooksProps) {
    super(scope, id);
    assertValid("Webhooks", [
      integerIn("maxReceiveCount", props.maxReceiveCount, 10, 1000),
      integerIn("sweepInterval (minutes)", props.sweepInterval?.toMinutes(), 1, 60),
    ]);

    this.deadLetterQueue = new sqs.Queue(this, "DeadLetterQueue", {
      retentionPeriod: DLQ_RETENTION,
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
    });
    this.queue = new sqs.Queue(this, "Queue", {
      // Lambda requires at least its timeout; a deferral sets its own visibility per message.
      visibilityTimeout: SENDER_TIMEOUT.plus(Duration.seconds(30)),
      retentionPeriod: Duration.days(4),
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: props.maxReceiveCount ?? 50 },
    });

    this.function = new nodejs.NodejsFunction(this, "Sender", {
      entry: props.entry ?? WEBHOOKS_ENTRY,
      handler: "handler",
      projectRoot: REPO_ROOT,
      depsLockFilePath: LOCK_FILE,
      runtime: API_RUNTIME,
      architecture: API_ARCHITECTURE,
      memorySize: 256,
      timeout: SENDER_TIMEOUT,
      environment: {
        ...sharedEnvironment(props),
        TROUPE_WEBHOOK_QUEUE_URL: this.queue.queueUrl,
        ...(props.schedule ? { TROUPE_WEBHOOK_SCHEDULE: props.schedule } : {}),
      },
      bundling: defaultApiBundling(),
      logGroup: new logs.LogGroup(this, "Logs", { retention: logs.RetentionDays.ONE_MONTH }),
      tracing: lambda.Tracing.DISABLED,
    });
    this.function.addEventSource(new SqsEventSource(this.queue, { batchSize: 10, reportBatchItemFailures: true }));
    // Deferring a message (the next attempt is hours away) and the sweeper's fresh messages.
    this.function.addToRolePolicy(
      new iam.PolicyStatement({ sid: "ScheduleDeliveries", actions: ["sqs:ChangeMessageVisibility", "sqs:SendMessage"], resources: [this.queue.queueArn] }),
    );
    // The job object it posts carries presigned output URLs.
    this.function.addToRolePolicy(
      new iam.PolicyStatement({ sid: "PresignOutputs", actions: ["s3:GetObject"], resources: [props.storage.bucket.arnForObjects(`${OUTPUTS_PREFIX}*`)] }),
    );
    props.storage.jobsTable.grantReadWriteData(this.function);
    props.storage.keysTable.grantReadData(this.function);

    this.sweepRule = new events.Rule(this, "Sweep", {
      schedule: events.Schedule.rate(props.sweepInterval ?? Duration.minutes(5)),
      targets: [new targets.LambdaFunction(this.function)],
    });
  }

  /** Lets a process that finishes jobs or redelivers (the API, the runner) wake the sender. */
  connect(grantee: iam.IGrantable, addEnvironment: (name: string, value: string) => void): void {
    this.queue.grantSendMessages(grantee);
    addEnvironment("TROUPE_WEBHOOK_QUEUE_URL", this.queue.queueUrl);
  }
}
