import * as iam from "aws-cdk-lib/aws-iam";
import type { IConstruct } from "constructs";
import { bundleObjectsArn } from "./bundle-location.ts";
import type { RuntimeResources } from "./runtime-environment.ts";
import { OUTPUTS_PREFIX, UPLOADS_PREFIX } from "./storage-defaults.ts";

/**
 * Least-privilege statements, written out action by action instead of `bucket.grantPut()` and
 * friends, whose action lists are wider than what the code calls (s3:Abort*, s3:DeleteObjectVersion…).
 * Each statement names the code that needs it; a new S3 call needs a line here (and in the tests).
 * Tables use `grantReadWriteData`: conditional single-item writes and queries, on three tables.
 */

/**
 * Reusable subjects (shared/src/records/subjects.ts): `subjects/{tenant}/{subject}/image`, the photo,
 * and `…/{encoder version}.bin`, its cached embedding. Not in storage-defaults: no lifecycle rule
 * expires subjects, they live until DELETE.
 */
export const SUBJECTS_PREFIX = "subjects/";
/** Only the runner's cache files, never a subject's photo. */
const SUBJECT_EMBEDDINGS = `${SUBJECTS_PREFIX}*.bin`;

/**
 * Without ListBucket S3 answers a missing key with 403, not 404: neither side could tell an object
 * deleted or never uploaded (a permanent unknown_upload / unknown_subject) from a fault worth
 * retrying. Also what `deletePrefix` (shared/src/aws/delete-objects.ts) lists.
 */
function listStatement(sid: string, resources: RuntimeResources, prefixes: readonly string[]): iam.PolicyStatement {
  return new iam.PolicyStatement({
    sid,
    actions: ["s3:ListBucket"],
    resources: [resources.storage.bucket.bucketArn],
    conditions: { StringLike: { "s3:prefix": prefixes.map((p) => `${p}*`) } },
  });
}

/**
 * The API: presign uploads (PUT, tagged with a key's retention) and output reads (GET), check and
 * copy uploads into subjects, delete what DELETE names, read the bundle, enqueue jobs.
 */
export function apiStatements(scope: IConstruct, resources: RuntimeResources): iam.PolicyStatement[] {
  const { storage, jobQueue } = resources;
  const objects = (...prefixes: string[]) => prefixes.map((p) => storage.bucket.arnForObjects(`${p}*`));
  return [
    // create-upload.ts: the presigned PUT carries `x-amz-tagging` when the key has a retention, and
    // S3 checks PutObjectTagging for a PUT with tags.
    new iam.PolicyStatement({
      sid: "PresignUploads",
      actions: ["s3:PutObject", "s3:PutObjectTagging"],
      resources: objects(UPLOADS_PREFIX),
    }),
    // upload-checks.ts reads an upload's first bytes; create-subject.ts copies it (CopyObject reads the
    // source); jobs/present.ts signs GETs of outputs and attention maps.
    new iam.PolicyStatement({
      sid: "PresignReads",
      actions: ["s3:GetObject"],
      resources: objects(UPLOADS_PREFIX, OUTPUTS_PREFIX),
    }),
    // create-subject.ts: the copy's destination (no tags copied: TaggingDirective REPLACE, so no
    // GetObjectTagging / PutObjectTagging).
    new iam.PolicyStatement({
      sid: "CopySubjectPhotos",
      actions: ["s3:PutObject"],
      resources: objects(SUBJECTS_PREFIX),
    }),
    // delete-upload.ts, delete-subject.ts (photo and cached embeddings), delete-generation.ts (outputs,
    // and a retainInputs:false job's uploads), create-subject.ts's rollback.
    new iam.PolicyStatement({
      sid: "DeleteOnRequest",
      actions: ["s3:DeleteObject"],
      resources: objects(UPLOADS_PREFIX, OUTPUTS_PREFIX, SUBJECTS_PREFIX),
    }),
    listStatement("ListStoredObjects", resources, [UPLOADS_PREFIX, OUTPUTS_PREFIX, SUBJECTS_PREFIX]),
    readBundleStatement(scope, resources),
    new iam.PolicyStatement({
      sid: "EnqueueJobs",
      actions: ["sqs:SendMessage"],
      resources: [jobQueue.queue.queueArn],
    }),
  ];
}

/**
 * The runner: consume the jobs queue and sweep the DLQ, read inputs and the bundle, cache subject
 * embeddings, write (tagged) outputs, delete a retainInputs:false job's uploads and a deleted job's outputs.
 */
export function runnerStatements(scope: IConstruct, resources: RuntimeResources): iam.PolicyStatement[] {
  const { storage, jobQueue } = resources;
  const objects = (...patterns: string[]) => patterns.map((p) => storage.bucket.arnForObjects(p));
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
    // subject-references.ts: upload photos, subject photos and cached embeddings (GET and HEAD).
    new iam.PolicyStatement({
      sid: "ReadInputs",
      actions: ["s3:GetObject"],
      resources: objects(`${UPLOADS_PREFIX}*`, `${SUBJECTS_PREFIX}*`),
    }),
    listStatement("ListInputs", resources, [UPLOADS_PREFIX, SUBJECTS_PREFIX]),
    // subject-references.ts writes a subject's embedding once per encoder, and removes it again when
    // the subject was deleted meanwhile; the photo itself stays the API's.
    new iam.PolicyStatement({
      sid: "CacheSubjectEmbeddings",
      actions: ["s3:PutObject", "s3:DeleteObject"],
      resources: objects(SUBJECT_EMBEDDINGS),
    }),
    readBundleStatement(scope, resources),
    // handle-message.ts: outputs and attention maps, tagged with a key's retention.
    new iam.PolicyStatement({
      sid: "WriteOutputs",
      actions: ["s3:PutObject", "s3:PutObjectTagging"],
      resources: objects(`${OUTPUTS_PREFIX}*`),
    }),
    // handle-message.ts discards the outputs of a job deleted while it ran; release-inputs.ts
    // deletes a retainInputs:false job's uploads when it ends.
    new iam.PolicyStatement({
      sid: "DeleteJobObjects",
      actions: ["s3:DeleteObject"],
      resources: objects(`${OUTPUTS_PREFIX}*`, `${UPLOADS_PREFIX}*`),
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
