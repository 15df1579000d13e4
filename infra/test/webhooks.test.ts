import { Stack } from "aws-cdk-lib";
import { Match, Template } from "aws-cdk-lib/assertions";
import { beforeAll, describe, expect, it } from "vitest";
import { parseBundleUri, type BundleLocation } from "../lib/bundle-location.ts";
import { JobQueue } from "../lib/job-queue.ts";
import { Storage } from "../lib/storage.ts";
import { Webhooks } from "../lib/webhooks.ts";
import { FIXTURE_ENTRY, actionsOf, statementsOfRole, synthTroupe, testApp } from "./fixtures/stacks.ts";

describe("Webhooks", () => {
  let template: Template;
  beforeAll(() => {
    const stack = new Stack(testApp(), "WebhooksTest");
    const bundle = parseBundleUri("s3://troupe-models/sd15/v1") as BundleLocation;
    new Webhooks(stack, "Webhooks", { storage: new Storage(stack, "Storage"), jobQueue: new JobQueue(stack, "Jobs"), bundle, entry: FIXTURE_ENTRY, schedule: "5s,5m" });
    template = Template.fromStack(stack);
  });

  it("feeds the sender from its queue in batches, keeping the messages it defers", () => {
    template.hasResourceProperties("AWS::Lambda::EventSourceMapping", {
      EventSourceArn: { "Fn::GetAtt": [Match.stringLikeRegexp("WebhooksQueue"), "Arn"] },
      BatchSize: 10,
      FunctionResponseTypes: ["ReportBatchItemFailures"],
    });
  });

  it("keeps messages long enough for a day of retries, with a DLQ for poison loops", () => {
    template.hasResourceProperties("AWS::SQS::Queue", {
      VisibilityTimeout: 90,
      MessageRetentionPeriod: 345_600,
      SqsManagedSseEnabled: true,
      RedrivePolicy: { deadLetterTargetArn: { "Fn::GetAtt": [Match.stringLikeRegexp("WebhooksDeadLetterQueue"), "Arn"] }, maxReceiveCount: 50 },
    });
  });

  it("sweeps overdue deliveries every 5 minutes with the same function", () => {
    template.hasResourceProperties("AWS::Events::Rule", {
      ScheduleExpression: "rate(5 minutes)",
      Targets: [Match.objectLike({ Arn: { "Fn::GetAtt": [Match.stringLikeRegexp("WebhooksSender"), "Arn"] } })],
    });
  });

  it("tells the sender its queue, tables and schedule", () => {
    template.hasResourceProperties("AWS::Lambda::Function", {
      Timeout: 60,
      Environment: {
        Variables: Match.objectLike({
          TROUPE_WEBHOOK_QUEUE_URL: { Ref: Match.stringLikeRegexp("WebhooksQueue") },
          TROUPE_JOBS_TABLE: { Ref: Match.stringLikeRegexp("StorageJobsTable") },
          TROUPE_WEBHOOK_SCHEDULE: "5s,5m",
        }),
      },
    });
  });

  it("may defer and re-send its messages and presign outputs, nothing wider", () => {
    const statements = statementsOfRole(template, "WebhooksSender");
    expect(statements).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ Sid: "ScheduleDeliveries", Action: ["sqs:ChangeMessageVisibility", "sqs:SendMessage"] }),
        expect.objectContaining({ Sid: "PresignOutputs", Action: "s3:GetObject" }),
      ]),
    );
    expect(actionsOf(statements)).not.toContain("s3:PutObject");
    expect(actionsOf(statements)).not.toContain("sqs:*");
  });
});

describe("Webhooks in the stack", () => {
  it("lets the API and the runner wake the sender, and says where the queue is", () => {
    const { template } = synthTroupe();
    for (const role of ["ApiFunctionServiceRole", "RunnerTaskDefinitionTaskRole"]) {
      expect(actionsOf(statementsOfRole(template, role))).toEqual(expect.arrayContaining(["sqs:SendMessage"]));
    }
    template.hasResourceProperties("AWS::ECS::TaskDefinition", {
      ContainerDefinitions: [Match.objectLike({ Environment: Match.arrayWith([{ Name: "TROUPE_WEBHOOK_QUEUE_URL", Value: { Ref: Match.stringLikeRegexp("WebhooksQueue") } }]) })],
    });
    template.hasOutput("WebhookQueueUrl", {});
  });
});
