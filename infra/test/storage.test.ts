import { Stack } from "aws-cdk-lib";
import { Match, Template } from "aws-cdk-lib/assertions";
import { beforeAll, describe, expect, it } from "vitest";
import { RETENTION_DAYS as SHARED_RETENTION_DAYS, RETENTION_TAG as SHARED_RETENTION_TAG } from "../../shared/src/contracts/retention.ts";
import { RETENTION_DAYS, RETENTION_TAG, Storage } from "../lib/storage.ts";
import { PropsValidationError } from "../lib/validate-props.ts";
import { testApp } from "./fixtures/stacks.ts";

describe("Storage", () => {
  let template: Template;
  beforeAll(() => {
    const stack = new Stack(testApp(), "StorageTest");
    new Storage(stack, "Storage", { uploadExpiryDays: 3 });
    template = Template.fromStack(stack);
  });

  it("keeps the bucket private and S3-encrypted", () => {
    template.hasResourceProperties("AWS::S3::Bucket", {
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: "AES256" } }],
      },
    });
  });

  it("denies every request that is not over TLS", () => {
    template.hasResourceProperties("AWS::S3::BucketPolicy", {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: "Deny",
            Action: "s3:*",
            Principal: { AWS: "*" },
            Condition: { Bool: { "aws:SecureTransport": "false" } },
          }),
        ]),
      },
    });
  });

  it("allows presigned PUTs from any origin with content-type and content-length", () => {
    template.hasResourceProperties("AWS::S3::Bucket", {
      CorsConfiguration: {
        CorsRules: [
          Match.objectLike({
            AllowedMethods: ["PUT"],
            AllowedOrigins: ["*"],
            AllowedHeaders: ["content-type", "content-length"],
          }),
        ],
      },
    });
  });

  it("expires uploads after the given days and outputs after the default 30", () => {
    template.hasResourceProperties("AWS::S3::Bucket", {
      LifecycleConfiguration: {
        Rules: Match.arrayWith([
          Match.objectLike({ Prefix: "uploads/", ExpirationInDays: 3, Status: "Enabled" }),
          Match.objectLike({ Prefix: "outputs/", ExpirationInDays: 30, Status: "Enabled" }),
        ]),
      },
    });
  });

  it.each([
    ["keys", [{ AttributeName: "keyId", KeyType: "HASH" }], undefined],
    [
      "jobs",
      [
        { AttributeName: "tenantId", KeyType: "HASH" },
        { AttributeName: "id", KeyType: "RANGE" },
      ],
      "expiresAt",
    ],
    [
      "usage",
      [
        { AttributeName: "pk", KeyType: "HASH" },
        { AttributeName: "sk", KeyType: "RANGE" },
      ],
      "expiresAt",
    ],
  ])("creates the %s table: on-demand, point-in-time recovery, its keys and TTL", (_name, keySchema, ttl) => {
    template.hasResourceProperties("AWS::DynamoDB::Table", {
      KeySchema: keySchema,
      AttributeDefinitions: keySchema.map((k) => ({ AttributeName: k.AttributeName, AttributeType: "S" })),
      BillingMode: "PAY_PER_REQUEST",
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      TimeToLiveSpecification: ttl ? { AttributeName: ttl, Enabled: true } : Match.absent(),
    });
  });

  it("expires objects tagged with a key's shorter retention after that many days, per prefix", () => {
    const rules = RETENTION_DAYS.flatMap((days) =>
      ["uploads/", "outputs/"].map((prefix) =>
        Match.objectLike({ Prefix: prefix, TagFilters: [{ Key: "troupe-retention-days", Value: String(days) }], ExpirationInDays: days, Status: "Enabled" }),
      ),
    );
    template.hasResourceProperties("AWS::S3::Bucket", { LifecycleConfiguration: { Rules: Match.arrayWith(rules) } });
    // The values the keys CLI accepts and the API and runner tag with are exactly the ones with a rule.
    expect([...RETENTION_DAYS]).toEqual([...SHARED_RETENTION_DAYS]);
    expect(RETENTION_TAG).toBe(SHARED_RETENTION_TAG);
  });

  it("keeps data when the stack is deleted", () => {
    template.hasResource("AWS::DynamoDB::Table", { DeletionPolicy: "Retain", UpdateReplacePolicy: "Retain" });
    template.hasResource("AWS::S3::Bucket", { DeletionPolicy: "Retain" });
  });

  it("reports every invalid prop at once", () => {
    const stack = new Stack(testApp(), "Invalid");
    const error = captureError(() => new Storage(stack, "Storage", { uploadExpiryDays: 0, outputExpiryDays: 1.5 }));
    expect(error).toBeInstanceOf(PropsValidationError);
    expect((error as PropsValidationError).problems).toEqual([
      expect.stringContaining("uploadExpiryDays"),
      expect.stringContaining("outputExpiryDays"),
    ]);
  });
});

function captureError(build: () => unknown): unknown {
  try {
    build();
  } catch (error) {
    return error;
  }
  throw new Error("expected the construct to throw");
}
