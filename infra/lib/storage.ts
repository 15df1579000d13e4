import { RemovalPolicy } from "aws-cdk-lib";
import * as dynamodb from "aws-cdk-lib/aws-dynamodb";
import * as s3 from "aws-cdk-lib/aws-s3";
import { Construct } from "constructs";
import {
  DEFAULT_OUTPUT_EXPIRY_DAYS,
  DEFAULT_UPLOAD_EXPIRY_DAYS,
  JOBS_TABLE,
  KEYS_TABLE,
  USAGE_TABLE,
  defaultBucketProps,
  defaultTableProps,
} from "./storage-defaults.ts";
import { assertValid, integerIn } from "./validate-props.ts";

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
    this.keysTable = new dynamodb.Table(this, "KeysTable", defaultTableProps(KEYS_TABLE, removalPolicy));
    this.jobsTable = new dynamodb.Table(this, "JobsTable", defaultTableProps(JOBS_TABLE, removalPolicy));
    this.usageTable = new dynamodb.Table(this, "UsageTable", defaultTableProps(USAGE_TABLE, removalPolicy));
  }

  /** The tables both processes read and write. */
  public get tables(): readonly dynamodb.Table[] {
    return [this.keysTable, this.jobsTable, this.usageTable];
  }
}
