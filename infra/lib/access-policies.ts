import * as iam from "aws-cdk-lib/aws-iam";
import type { IConstruct } from "constructs";
import { bundleObjectsArn } from "./bundle-location.ts";
import type { RuntimeResources } from "./runtime-environment.ts";
import { OUTPUTS_PREFIX, UPLOADS_PREFIX } from "./storage-defaults.ts";

/**
 * Least-privilege statements, written out action by action instead of `bucket.grantPut()` and
 * friends, whose action lists are wider than what the code calls (s3:Abort*, PutObjectTagging…).
 * Tables use `grantReadWriteData`: conditional single-item writes and queries, on three tables.
 */

/** The API: presign uploads (PUT) and output reads (GET), read the bundle, enqueue jobs. */
export function apiStatements(scope: IConstruct, resources: RuntimeResources): iam.PolicyStatement[] {
  const { storage, jobQueue, bundle } = resources;
  return [
    new iam.PolicyStatement({
      sid: "PresignUploads",
      actions: ["s3:PutObject"],
      resources: [storage.bucket.arnForObjects(`${UPLOADS_PREFIX}*`)],
    }),
    new iam.PolicyStatement({
      sid: "PresignReads",
      actions: ["s3:GetObject"],
      resources: [
        storage.bucket.arnForObjects(`${UPLOADS_PREFIX}*`),
        storage.bucket.arnForObjects(`${OUTPUTS_PREFIX}*`),
      ],
    }),
    readBundleStatement(scope, resources),
    new iam.PolicyStatement({
      sid: "EnqueueJobs",
      actions: ["sqs:SendMessage"],
      resources: [jobQueue.queue.queueArn],
    }),
  ];
}

/** The runner: consume the jobs queue and sweep the DLQ, read inputs and the bundle, write outputs. */
export function runnerStatements(scope: IConstruct, resources: RuntimeResources): iam.PolicyStatement[] {
  const { storage, jobQueue } = resources;
  return [
    new iam.PolicyStatement({
      sid: "ConsumeJobs",
      actions: [
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
        "sqs:ChangeMessageVisibility",
        "sqs:GetQueueAttributes",
      ],
      resources: [jobQueue.queue.queueArn, jobQueue.deadLetterQueue.queueArn],
    }),
    // The runner's sweeper sends again the message of a job whose dispatch never completed.
    new iam.PolicyStatement({
      sid: "RedispatchJobs",
      actions: ["sqs:SendMessage"],
      resources: [jobQueue.queue.queueArn],
    }),
    new iam.PolicyStatement({
      sid: "ReadUploads",
      actions: ["s3:GetObject"],
      resources: [storage.bucket.arnForObjects(`${UPLOADS_PREFIX}*`)],
    }),
    // Without ListBucket S3 answers a missing key with 403, not 404: the runner could not tell an
    // expired upload (a permanent unknown_upload) from a fault worth retrying.
    new iam.PolicyStatement({
      sid: "ListUploads",
      actions: ["s3:ListBucket"],
      resources: [storage.bucket.bucketArn],
      conditions: { StringLike: { "s3:prefix": [`${UPLOADS_PREFIX}*`] } },
    }),
    readBundleStatement(scope, resources),
    new iam.PolicyStatement({
      sid: "WriteOutputs",
      actions: ["s3:PutObject"],
      resources: [storage.bucket.arnForObjects(`${OUTPUTS_PREFIX}*`)],
    }),
  ];
}

function readBundleStatement(scope: IConstruct, { bundle }: RuntimeResources): iam.PolicyStatement {
  return new iam.PolicyStatement({
    sid: "ReadModelBundle",
    actions: ["s3:GetObject"],
    resources: [bundleObjectsArn(scope, bundle)],
  });
}

/** Attaches the statements and read/write on the three tables to a principal. */
export function grantRuntimeAccess(
  grantee: iam.IGrantable,
  statements: readonly iam.PolicyStatement[],
  resources: RuntimeResources,
): void {
  for (const statement of statements) grantee.grantPrincipal.addToPrincipalPolicy(statement);
  for (const table of resources.storage.tables) table.grantReadWriteData(grantee);
}
