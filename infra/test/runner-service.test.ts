import { Match, type Template } from "aws-cdk-lib/assertions";
import { beforeAll, describe, expect, it } from "vitest";
import { actionsOf, statementsOfRole, synthTroupe } from "./fixtures/stacks.ts";

describe("RunnerService (defaults)", () => {
  let template: Template;
  beforeAll(() => {
    ({ template } = synthTroupe({ bundleUri: "s3://troupe-models/sd15" }));
  });

  it("reserves one GPU and memory, and logs to CloudWatch Logs", () => {
    template.hasResourceProperties("AWS::ECS::TaskDefinition", {
      RequiresCompatibilities: ["EC2"],
      ContainerDefinitions: [
        Match.objectLike({
          ResourceRequirements: [{ Type: "GPU", Value: "1" }],
          MemoryReservation: 12288,
          StopTimeout: 120,
          LogConfiguration: Match.objectLike({
            LogDriver: "awslogs",
            Options: Match.objectLike({ "awslogs-stream-prefix": "runner" }),
          }),
        }),
      ],
    });
  });

  it("gets the API's environment plus the CUDA provider, its grace period and the region", () => {
    template.hasResourceProperties("AWS::ECS::TaskDefinition", {
      ContainerDefinitions: [
        Match.objectLike({
          Environment: Match.arrayWith([
            { Name: "TROUPE_BUCKET", Value: { Ref: Match.stringLikeRegexp("StorageBucket") } },
            { Name: "TROUPE_QUEUE_URL", Value: { Ref: Match.stringLikeRegexp("JobsQueue") } },
            { Name: "TROUPE_DLQ_URL", Value: { Ref: Match.stringLikeRegexp("JobsDeadLetterQueue") } },
            { Name: "TROUPE_KEYS_TABLE", Value: { Ref: Match.stringLikeRegexp("StorageKeysTable") } },
            { Name: "TROUPE_JOBS_TABLE", Value: { Ref: Match.stringLikeRegexp("StorageJobsTable") } },
            { Name: "TROUPE_USAGE_TABLE", Value: { Ref: Match.stringLikeRegexp("StorageUsageTable") } },
            { Name: "TROUPE_BUNDLE", Value: "s3://troupe-models/sd15/" },
            { Name: "NODE_OPTIONS", Value: "--enable-source-maps" },
            { Name: "AWS_REGION", Value: { Ref: "AWS::Region" } },
            { Name: "TROUPE_EXECUTION_PROVIDER", Value: "cuda" },
            { Name: "TROUPE_SHUTDOWN_GRACE_S", Value: "90" },
          ]),
        }),
      ],
    });
  });

  it("runs as a service on the GPU capacity provider, starting at 0 tasks", () => {
    template.hasResourceProperties("AWS::ECS::Service", {
      DesiredCount: 0,
      CapacityProviderStrategy: [{ CapacityProvider: { Ref: Match.stringLikeRegexp("GpuCapacityProvider") }, Weight: 1 }],
      DeploymentConfiguration: Match.objectLike({
        DeploymentCircuitBreaker: { Enable: true, Rollback: true },
      }),
    });
  });

  it("may consume the jobs queue and the DLQ", () => {
    template.hasResourceProperties("AWS::IAM::Policy", {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Action: ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueAttributes"],
            Resource: [
              { "Fn::GetAtt": [Match.stringLikeRegexp("JobsQueue"), "Arn"] },
              { "Fn::GetAtt": [Match.stringLikeRegexp("JobsDeadLetterQueue"), "Arn"] },
            ],
          }),
        ]),
      },
    });
  });

  it("may list uploads/ and subjects/ only, so a missing input reads as 404 rather than 403", () => {
    template.hasResourceProperties("AWS::IAM::Policy", {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Sid: "ListInputs", Action: "s3:ListBucket", Condition: { StringLike: { "s3:prefix": ["uploads/*", "subjects/*"] } } }),
        ]),
      },
    });
  });

  it("may protect its own cluster's tasks from scale-in while a job runs", () => {
    template.hasResourceProperties("AWS::IAM::Policy", {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Sid: "ScaleInProtection",
            Action: ["ecs:UpdateTaskProtection", "ecs:GetTaskProtection"],
            Resource: { "Fn::Join": ["", Match.arrayWith([Match.stringLikeRegexp(":task/")])] },
          }),
        ]),
      },
    });
  });

  // Each S3 action the runner's code calls, on exactly the prefixes it calls it on (access-policies.ts names the callers).
  it("in S3 may only: read inputs, cache subject embeddings, read the bundle, write tagged outputs, delete a job's outputs and uploads", () => {
    const statements = statementsOfRole(template, "RunnerTaskDefinitionTaskRole");
    const s3 = statements.filter((s) => actionsOf([s]).some((a) => a.startsWith("s3:")));
    expect(s3.map((s) => [s.Sid, s.Action, s.Resource])).toEqual([
      ["ReadInputs", "s3:GetObject", [objectArn("uploads/*"), objectArn("subjects/*")]],
      ["ListInputs", "s3:ListBucket", { "Fn::GetAtt": [expect.stringMatching(/^StorageBucket/), "Arn"] }],
      // The cache files only: the runner can neither overwrite nor delete a subject's photo.
      ["CacheSubjectEmbeddings", ["s3:PutObject", "s3:DeleteObject"], objectArn("subjects/*.bin")],
      ["ReadModelBundle", "s3:GetObject", { "Fn::Join": ["", ["arn:", { Ref: "AWS::Partition" }, ":s3:::troupe-models/sd15/*"]] }],
      ["WriteOutputs", ["s3:PutObject", "s3:PutObjectTagging"], objectArn("outputs/*")],
      ["DeleteJobObjects", "s3:DeleteObject", [objectArn("outputs/*"), objectArn("uploads/*")]],
    ]);
  });

  it("may read and write the three tables", () => {
    const statements = statementsOfRole(template, "RunnerTaskDefinitionTaskRole");
    const tables = statements
      .filter((s) => actionsOf([s]).includes("dynamodb:UpdateItem"))
      .map((s) => JSON.stringify(s.Resource));
    expect(tables).toEqual([
      expect.stringContaining("StorageKeysTable"),
      expect.stringContaining("StorageJobsTable"),
      expect.stringContaining("StorageUsageTable"),
    ]);
  });

  it("sends only to the jobs queue (its sweeper re-dispatches) and the webhooks queue, and deletes only single objects", () => {
    const statements = statementsOfRole(template, "RunnerTaskDefinitionTaskRole");
    const sends = statements.filter((s) => actionsOf([s]).includes("sqs:SendMessage"));
    expect(sends.map((s) => JSON.stringify(s.Resource)).sort()).toEqual([expect.stringMatching(/JobsQueue/), expect.stringMatching(/WebhooksQueue/)]);
    const actions = actionsOf(statements);
    expect(actions.filter((a) => a.startsWith("s3:Delete"))).toEqual(["s3:DeleteObject", "s3:DeleteObject"]);
    for (const forbidden of ["s3:*", "s3:Delete*", "s3:DeleteObjectVersion", "s3:GetObjectTagging"]) expect(actions).not.toContain(forbidden);
  });
});

/** The CloudFormation form of `bucket.arnForObjects(pattern)` for the stack's bucket. */
function objectArn(pattern: string): unknown {
  return { "Fn::Join": ["", [{ "Fn::GetAtt": [expect.stringMatching(/^StorageBucket/), "Arn"] }, `/${pattern}`]] };
}
