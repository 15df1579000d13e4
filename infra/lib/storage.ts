import { Duration, RemovalPolicy } from "aws-cdk-lib";
import * as dynamodb from "aws-cdk-lib/aws-dynamodb";
import * as s3 from "aws-cdk-lib/aws-s3";
import { Construct } from "constructs";
import {
  DEFAULT_OUTPUT_EXPIRY_DAYS,
  DEFAULT_UPLOAD_EXPIRY_DAYS,
  JOBS_TABLE,
  OUTPUTS_PREFIX,
  UPLOADS_PREFIX,
  KEYS_TABLE,
  USAGE_TABLE,
  defaultBucketProps,
  defaultTableProps,
} from "./storage-defaults.ts";
import { assertValid, integerIn } from "./validate-props.ts";

/**
 * The per-key retention values and their tag: the same as shared/src/contracts/retention.ts (infra does not
 * depend on shared; infra/test/storage.test.ts checks they agree). One lifecycle rule per value and prefix.
 */
export const RETENTION_DAYS = [1, 2, 3, 7, 14] as const;
export const RETENTION_TAG = "troupe-retention-days";

export interface StorageProps {
  /**
   * Days after which objects under `uploads/` (reference photos) are deleted.
   * @default 7
   */
  readonly uploadExpiryDays?: number;
  /**
   * Days after which objects under `outputs/` (generated images, attention maps) are deleted.
   * @default 30
   */
  readonly outputExpiryDays?: number;
  /**
   * What happens to the bucket and tables when the stack is deleted.
   * @default RemovalPolicy.RETAIN (API keys and job history outlive a mistaken `cdk destroy`)
   */
  readonly removalPolicy?: RemovalPolicy;
}

/** The bucket and the three DynamoDB tables (api keys, jobs/uploads/idempotency, usage). */
export class Storage extends Construct {
  public readonly bucket: s3.Bucket;
  /** Partition key `keyId`. */
  public readonly keysTable: dynamodb.Table;
  /** Partition key `tenantId`, sort key `id` (`gen_…`, `upl_…`, `idem#…`); TTL `expiresAt`. */
  public readonly jobsTable: dynamodb.Table;
  /** Partition key `pk`, sort key `sk`; TTL `expiresAt`. */
  public readonly usageTable: dynamodb.Table;

  constructor(scope: Construct, id: string, props: StorageProps = {}) {
    super(scope, id);
    assertValid("Storage", [
      integerIn("uploadExpiryDays", props.uploadExpiryDays, 1, 3650),
      integerIn("outputExpiryDays", props.outputExpiryDays, 1, 3650),
    ]);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;

    this.bucket = new s3.Bucket(
      this,
      "Bucket",
      defaultBucketProps({
        uploadExpiryDays: props.uploadExpiryDays ?? DEFAULT_UPLOAD_EXPIRY_DAYS,
        outputExpiryDays: props.outputExpiryDays ?? DEFAULT_OUTPUT_EXPIRY_DAYS,
        removalPolicy,
      }),
    );
    // Per-key retention (keys CLI `retention`): objects written with the tag `troupe-retention-days=N`
    // expire after N days by these tag-filtered rules, before the prefix-wide ones above.
    for (const days of RETENTION_DAYS) {
      for (const [name, prefix] of [["uploads", UPLOADS_PREFIX], ["outputs", OUTPUTS_PREFIX]] as const) {
        this.bucket.addLifecycleRule({ id: `retention-${name}-${days}d`, prefix, tagFilters: { [RETENTION_TAG]: String(days) }, expiration: Duration.days(days) });
      }
    }
    this.keysTable = new dynamodb.Table(this, "KeysTable", defaultTableProps(KEYS_TABLE, removalPolicy));
    this.jobsTable = new dynamodb.Table(this, "JobsTable", defaultTableProps(JOBS_TABLE, removalPolicy));
    this.usageTable = new dynamodb.Table(this, "UsageTable", defaultTableProps(USAGE_TABLE, removalPolicy));
  }

  /** The tables both processes read and write. */
  public get tables(): readonly dynamodb.Table[] {
    return [this.keysTable, this.jobsTable, this.usageTable];
  }
}
