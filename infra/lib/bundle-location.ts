import type { IBucket } from "aws-cdk-lib/aws-s3";
import { Stack } from "aws-cdk-lib";
import type { IConstruct } from "constructs";

/**
 * Where the model bundle lives: `s3://bucket/prefix`. The API and the runner get the URI as
 * TROUPE_BUNDLE and s3:GetObject on exactly `prefix/*` of that bucket.
 */
export interface BundleLocation {
  /** The value given to both processes as TROUPE_BUNDLE, always with a trailing slash. */
  readonly uri: string;
  readonly bucketName: string;
  /** Object prefix without leading slash, with a trailing slash ("models/sd15/"); "" for the whole bucket. */
  readonly prefix: string;
}

const S3_URI = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:\/(.*))?$/;

/** Parses `s3://bucket/prefix`; returns a sentence naming the problem when it is not one. */
export function parseBundleUri(uri: string): BundleLocation | string {
  const match = S3_URI.exec(uri);
  if (!match) return `bundleUri must look like s3://bucket/prefix, got "${uri}"`;
  const bucketName = match[1];
  const rest = (match[2] ?? "").replace(/^\/+/, "");
  if (/[*?]/.test(rest)) return `bundleUri must not contain wildcards, got "${uri}"`;
  const prefix = rest === "" || rest.endsWith("/") ? rest : `${rest}/`;
  return { uri: `s3://${bucketName}/${prefix}`, bucketName, prefix };
}

/** The default: a `models/current/` prefix in the stack's own bucket (lifecycle rules do not touch it). */
export function bundleInBucket(bucket: IBucket, prefix = "models/current/"): BundleLocation {
  return { uri: `s3://${bucket.bucketName}/${prefix}`, bucketName: bucket.bucketName, prefix };
}

/** The ARN pattern of the bundle's objects, for s3:GetObject. */
export function bundleObjectsArn(scope: IConstruct, bundle: BundleLocation): string {
  const partition = Stack.of(scope).partition;
  return `arn:${partition}:s3:::${bundle.bucketName}/${bundle.prefix}*`;
}
