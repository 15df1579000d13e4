import { Duration, RemovalPolicy } from "aws-cdk-lib";
import * as dynamodb from "aws-cdk-lib/aws-dynamodb";
import * as s3 from "aws-cdk-lib/aws-s3";

/** S3 key prefixes from DESIGN.md §3; the IAM statements and lifecycle rules are written against them. */
export const UPLOADS_PREFIX = "uploads/";
export const OUTPUTS_PREFIX = "outputs/";

/** The TTL attribute every expiring record carries (epoch seconds). */
export const TTL_ATTRIBUTE = "expiresAt";

export const DEFAULT_UPLOAD_EXPIRY_DAYS = 7;
export const DEFAULT_OUTPUT_EXPIRY_DAYS = 30;

export interface BucketDefaultsOptions {
  readonly uploadExpiryDays: number;
  readonly outputExpiryDays: number;
  readonly removalPolicy: RemovalPolicy;
}

/** Private, encrypted, TLS-only; presigned PUTs from any origin; uploads and outputs expire. */
export function defaultBucketProps(options: BucketDefaultsOptions): s3.BucketProps {
  return {
    blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
    encryption: s3.BucketEncryption.S3_MANAGED,
    enforceSSL: true,
    objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
    removalPolicy: options.removalPolicy,
    autoDeleteObjects: false,
    cors: [
      {
        // Apps PUT straight to the presigned URL; the signature, not the origin, is the access check.
        allowedMethods: [s3.HttpMethods.PUT],
        allowedOrigins: ["*"],
        allowedHeaders: ["content-type", "content-length"],
        exposedHeaders: ["etag"],
        maxAge: 3000,
      },
    ],
    lifecycleRules: [
      { id: "expire-uploads", prefix: UPLOADS_PREFIX, expiration: Duration.days(options.uploadExpiryDays) },
      { id: "expire-outputs", prefix: OUTPUTS_PREFIX, expiration: Duration.days(options.outputExpiryDays) },
      { id: "abort-incomplete-multipart", abortIncompleteMultipartUploadAfter: Duration.days(1) },
    ],
  };
}

/** One table's key schema; everything else is shared by the three tables. */
export interface TableKeys {
  readonly partitionKey: string;
  readonly sortKey?: string;
  readonly ttl: boolean;
}

export const KEYS_TABLE: TableKeys = { partitionKey: "keyId", ttl: false };
export const JOBS_TABLE: TableKeys = { partitionKey: "tenantId", sortKey: "id", ttl: true };
export const USAGE_TABLE: TableKeys = { partitionKey: "pk", sortKey: "sk", ttl: true };

/** On-demand (nothing is paid at idle), point-in-time recovery, string keys, optional TTL. */
export function defaultTableProps(keys: TableKeys, removalPolicy: RemovalPolicy): dynamodb.TableProps {
  return {
    partitionKey: { name: keys.partitionKey, type: dynamodb.AttributeType.STRING },
    sortKey: keys.sortKey ? { name: keys.sortKey, type: dynamodb.AttributeType.STRING } : undefined,
    billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
    pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
    encryption: dynamodb.TableEncryption.AWS_MANAGED,
    timeToLiveAttribute: keys.ttl ? TTL_ATTRIBUTE : undefined,
    removalPolicy,
  };
}
