import { Stack } from "aws-cdk-lib";
import { Match, Template } from "aws-cdk-lib/assertions";
import { beforeAll, describe, expect, it } from "vitest";
import { Api } from "../lib/api.ts";
import { parseBundleUri, type BundleLocation } from "../lib/bundle-location.ts";
import { JobQueue } from "../lib/job-queue.ts";
import { Storage } from "../lib/storage.ts";
import { FIXTURE_ENTRY, actionsOf, statementsOfRole, testApp } from "./fixtures/stacks.ts";

describe("Api", () => {
  let template: Template;
  let stack: Stack;
  beforeAll(() => {
    stack = new Stack(testApp(), "ApiTest");
    const bundle = parseBundleUri("s3://troupe-models/sd15/v1") as BundleLocation;
    new Api(stack, "Api", {
      storage: new Storage(stack, "Storage"),
      jobQueue: new JobQueue(stack, "Jobs"),
      bundle,
      entry: FIXTURE_ENTRY,
    });
    template = Template.fromStack(stack);
  });

  it("runs the bundled ESM handler on Node 24", () => {
    template.hasResourceProperties("AWS::Lambda::Function", {
      Runtime: "nodejs24.x",
      Handler: "index.handler",
      Architectures: ["arm64"],
    });
  });

  it("tells the app where everything is", () => {
    template.hasResourceProperties("AWS::Lambda::Function", {
      Environment: {
        Variables: {
          TROUPE_BUCKET: { Ref: Match.stringLikeRegexp("StorageBucket") },
          TROUPE_QUEUE_URL: { Ref: Match.stringLikeRegexp("JobsQueue") },
          TROUPE_DLQ_URL: { Ref: Match.stringLikeRegexp("JobsDeadLetterQueue") },
          TROUPE_KEYS_TABLE: { Ref: Match.stringLikeRegexp("StorageKeysTable") },
          TROUPE_JOBS_TABLE: { Ref: Match.stringLikeRegexp("StorageJobsTable") },
          TROUPE_USAGE_TABLE: { Ref: Match.stringLikeRegexp("StorageUsageTable") },
          TROUPE_BUNDLE: "s3://troupe-models/sd15/v1/",
          NODE_OPTIONS: "--enable-source-maps",
        },
      },
    });
  });

  it("is reachable through a Function URL with auth NONE (the app checks API keys)", () => {
    template.hasResourceProperties("AWS::Lambda::Url", { AuthType: "NONE" });
    template.hasResourceProperties("AWS::Lambda::Permission", {
      Action: "lambda:InvokeFunctionUrl",
      FunctionUrlAuthType: "NONE",
      Principal: "*",
    });
  });

  // Each S3 action the API's code calls, on exactly the prefixes it calls it on (access-policies.ts names the callers).
  it("in S3 may only: presign tagged upload PUTs, read uploads and outputs, copy into subjects, delete on request, list the three prefixes", () => {
    const s3 = s3Statements(statementsOfRole(template, "ApiFunctionServiceRole"));
    expect(s3).toEqual([
      { Sid: "PresignUploads", Action: ["s3:PutObject", "s3:PutObjectTagging"], Resource: objectArn("uploads/*") },
      { Sid: "PresignReads", Action: "s3:GetObject", Resource: [objectArn("uploads/*"), objectArn("outputs/*")] },
      { Sid: "CopySubjectPhotos", Action: "s3:PutObject", Resource: objectArn("subjects/*") },
      { Sid: "DeleteOnRequest", Action: "s3:DeleteObject", Resource: [objectArn("uploads/*"), objectArn("outputs/*"), objectArn("subjects/*")] },
      { Sid: "ListStoredObjects", Action: "s3:ListBucket", Resource: bucketArn(), Condition: { StringLike: { "s3:prefix": ["uploads/*", "outputs/*", "subjects/*"] } } },
      { Sid: "ReadModelBundle", Action: "s3:GetObject", Resource: expect.anything() },
    ]);
  });

  it("may read the model bundle's prefix only", () => {
    template.hasResourceProperties("AWS::IAM::Policy", {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Action: "s3:GetObject",
            Resource: { "Fn::Join": ["", ["arn:", { Ref: "AWS::Partition" }, ":s3:::troupe-models/sd15/v1/*"]] },
          }),
        ]),
      },
    });
  });

  // arrayWith matches in order: the statements and actions below are listed as CDK renders them.
  it("may send to the jobs queue and read/write the three tables", () => {
    template.hasResourceProperties("AWS::IAM::Policy", {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Action: "sqs:SendMessage",
            Resource: { "Fn::GetAtt": [Match.stringLikeRegexp("JobsQueue"), "Arn"] },
          }),
          ...["Keys", "Jobs", "Usage"].map((table) =>
            Match.objectLike({
              Action: Match.arrayWith(["dynamodb:Query", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"]),
              Resource: Match.arrayWith([{ "Fn::GetAtt": [Match.stringLikeRegexp(`Storage${table}Table`), "Arn"] }]),
            }),
          ),
        ]),
      },
    });
  });

  it("can consume no jobs, and deletes only single objects under its three prefixes, never versions or the bucket", () => {
    const actions = actionsOf(statementsOfRole(template, "ApiFunctionServiceRole"));
    for (const forbidden of ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:*", "s3:*", "s3:Delete*", "s3:DeleteObjectVersion", "s3:DeleteBucket", "s3:PutLifecycleConfiguration"]) {
      expect(actions).not.toContain(forbidden);
    }
    expect(actions.filter((a) => a.startsWith("sqs:"))).toEqual(["sqs:SendMessage"]);
    expect(actions.filter((a) => a.startsWith("s3:Delete"))).toEqual(["s3:DeleteObject"]);
  });

  it("rejects an impossible memory size and timeout together", () => {
    const storage = new Storage(stack, "Storage2");
    const jobQueue = new JobQueue(stack, "Jobs2");
    const bundle = parseBundleUri("s3://troupe-models/x") as BundleLocation;
    expect(() => new Api(stack, "Bad", { storage, jobQueue, bundle, entry: FIXTURE_ENTRY, memorySizeMiB: 64, reservedConcurrency: 0 })).toThrow(
      /memorySizeMiB[\s\S]*reservedConcurrency/,
    );
  });
});

/** The CloudFormation form of `bucket.arnForObjects(pattern)` for the stack's bucket. */
function objectArn(pattern: string): unknown {
  return { "Fn::Join": ["", [{ "Fn::GetAtt": [expect.stringMatching(/^StorageBucket/), "Arn"] }, `/${pattern}`]] };
}

/** The CloudFormation form of the stack's bucket ARN. */
function bucketArn(): unknown {
  return { "Fn::GetAtt": [expect.stringMatching(/^StorageBucket/), "Arn"] };
}

/** The S3 statements in the order they are granted, without Effect (always Allow here). */
function s3Statements(statements: Array<Record<string, unknown>>): Array<Record<string, unknown>> {
  return statements
    .filter((s) => actionsOf([s]).some((a) => a.startsWith("s3:")))
    .map(({ Effect, ...rest }) => {
      expect(Effect).toBe("Allow");
      return rest;
    });
}
