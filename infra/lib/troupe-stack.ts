import { CfnOutput, Duration, Stack, type RemovalPolicy, type StackProps } from "aws-cdk-lib";
import type * as ecs from "aws-cdk-lib/aws-ecs";
import type { Construct } from "constructs";
import { Api } from "./api.ts";
import { BacklogScaling } from "./backlog-scaling.ts";
import { bundleInBucket, parseBundleUri, type BundleLocation } from "./bundle-location.ts";
import { DEFAULT_STOP_TIMEOUT, GpuCluster } from "./gpu-cluster.ts";
import { JobQueue } from "./job-queue.ts";
import { Operations } from "./operations.ts";
import { RunnerService } from "./runner-service.ts";
import { Storage } from "./storage.ts";
import { Webhooks } from "./webhooks.ts";
import { assertValid } from "./validate-props.ts";

export interface TroupeStackProps extends StackProps {
  /**
   * The model bundle, `s3://bucket/prefix` (TROUPE_BUNDLE for the API and the runner).
   * @default s3://<the stack's bucket>/models/current/
   */
  readonly bundleUri?: string;
  /** @default functions/src/handlers/lambda.ts */
  readonly apiEntry?: string;
  /** @default functions/src/handlers/webhooks-lambda.ts */
  readonly webhooksEntry?: string;
  /** @default the image built from gpu-runner/Dockerfile */
  readonly runnerImage?: ecs.ContainerImage;
  /** @default - no email subscription */
  readonly alarmEmail?: string;
  /** @default "g5.xlarge" */
  readonly instanceType?: string;
  /** @default false */
  readonly spot?: boolean;
  /** Most runner tasks (= GPU instances). @default 4 */
  readonly maxTasks?: number;
  /** @default 2 */
  readonly targetBacklogPerTask?: number;
  /** SIGTERM→SIGKILL wait for the runner, in the task definition and the ECS agent. @default 120 s */
  readonly stopTimeout?: Duration;
  /** @default 90 */
  readonly shutdownGraceSeconds?: number;
  /** @default 7 */
  readonly uploadExpiryDays?: number;
  /** @default 30 */
  readonly outputExpiryDays?: number;
  /** @default 3 */
  readonly maxReceiveCount?: number;
  /** @default Duration.minutes(15) */
  readonly visibilityTimeout?: Duration;
  /** @default Duration.minutes(15) */
  readonly oldestMessageAgeThreshold?: Duration;
  /** @default - two AZs resolved at deploy time */
  readonly availabilityZones?: string[];
  /** @default RemovalPolicy.RETAIN */
  readonly removalPolicy?: RemovalPolicy;
}

/** The whole deployment: storage, queue, API, GPU cluster with its runner service, alarms. */
export class TroupeStack extends Stack {
  public readonly storage: Storage;
  public readonly jobQueue: JobQueue;
  public readonly api: Api;
  public readonly gpuCluster: GpuCluster;
  public readonly runner: RunnerService;
  public readonly webhooks: Webhooks;
  public readonly scaling: BacklogScaling;
  public readonly operations: Operations;

  constructor(scope: Construct, id: string, props: TroupeStackProps = {}) {
    super(scope, id, props);
    const parsedBundle = props.bundleUri === undefined ? undefined : parseBundleUri(props.bundleUri);
    assertValid("TroupeStack", [typeof parsedBundle === "string" ? parsedBundle : undefined]);

    this.storage = new Storage(this, "Storage", {
      uploadExpiryDays: props.uploadExpiryDays,
      outputExpiryDays: props.outputExpiryDays,
      removalPolicy: props.removalPolicy,
    });
    this.jobQueue = new JobQueue(this, "Jobs", {
      maxReceiveCount: props.maxReceiveCount,
      visibilityTimeout: props.visibilityTimeout,
    });
    const bundle = typeof parsedBundle === "object" ? parsedBundle : bundleInBucket(this.storage.bucket);
    const resources = { storage: this.storage, jobQueue: this.jobQueue, bundle };

    this.api = new Api(this, "Api", { ...resources, entry: props.apiEntry });

    const stopTimeout = props.stopTimeout ?? DEFAULT_STOP_TIMEOUT;
    this.gpuCluster = new GpuCluster(this, "Gpu", {
      instanceType: props.instanceType,
      maxInstances: props.maxTasks,
      spot: props.spot,
      stopTimeout,
      availabilityZones: props.availabilityZones,
    });
    this.runner = new RunnerService(this, "Runner", {
      ...resources,
      gpuCluster: this.gpuCluster,
      image: props.runnerImage,
      stopTimeout,
      shutdownGraceSeconds: props.shutdownGraceSeconds,
    });
    // Terminal transitions (runner) and redeliveries (API) wake the webhook sender.
    this.webhooks = new Webhooks(this, "Webhooks", { ...resources, entry: props.webhooksEntry });
    this.webhooks.connect(this.api.function, (k, v) => this.api.function.addEnvironment(k, v));
    this.webhooks.connect(this.runner.taskDefinition.taskRole, (k, v) => this.runner.container.addEnvironment(k, v));
    this.scaling = new BacklogScaling(this, "Scaling", {
      service: this.runner.service,
      cluster: this.gpuCluster.cluster,
      queue: this.jobQueue.queue,
      maxTasks: props.maxTasks,
      targetBacklogPerTask: props.targetBacklogPerTask,
    });
    this.operations = new Operations(this, "Operations", {
      queue: this.jobQueue.queue,
      deadLetterQueue: this.jobQueue.deadLetterQueue,
      apiFunction: this.api.function,
      runnerLogGroup: this.runner.logGroup,
      runnerService: this.runner.service,
      cluster: this.gpuCluster.cluster,
      alarmEmail: props.alarmEmail,
      oldestMessageAgeThreshold: props.oldestMessageAgeThreshold,
    });
    this.addOutputs(bundle);
  }

  private addOutputs(bundle: BundleLocation): void {
    const outputs: Record<string, string> = {
      ApiUrl: this.api.functionUrl.url,
      BucketName: this.storage.bucket.bucketName,
      QueueUrl: this.jobQueue.queue.queueUrl,
      DlqUrl: this.jobQueue.deadLetterQueue.queueUrl,
      WebhookQueueUrl: this.webhooks.queue.queueUrl,
      KeysTableName: this.storage.keysTable.tableName,
      JobsTableName: this.storage.jobsTable.tableName,
      UsageTableName: this.storage.usageTable.tableName,
      BundleUri: bundle.uri,
    };
    for (const [id, value] of Object.entries(outputs)) new CfnOutput(this, id, { value });
  }
}
