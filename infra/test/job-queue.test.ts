import { Duration, Stack } from "aws-cdk-lib";
import { Match, Template } from "aws-cdk-lib/assertions";
import { beforeAll, describe, expect, it } from "vitest";
import { JobQueue } from "../lib/job-queue.ts";
import { testApp } from "./fixtures/stacks.ts";

describe("JobQueue", () => {
  let template: Template;
  let stack: Stack;
  beforeAll(() => {
    stack = new Stack(testApp(), "QueueTest");
    new JobQueue(stack, "Jobs", { maxReceiveCount: 5 });
    template = Template.fromStack(stack);
  });

  it("redrives to the DLQ after maxReceiveCount deliveries", () => {
    template.hasResourceProperties("AWS::SQS::Queue", {
      RedrivePolicy: {
        deadLetterTargetArn: { "Fn::GetAtt": [Match.stringLikeRegexp("JobsDeadLetterQueue"), "Arn"] },
        maxReceiveCount: 5,
      },
    });
  });

  it("hides a taken job for 15 minutes by default and long-polls", () => {
    template.hasResourceProperties("AWS::SQS::Queue", {
      VisibilityTimeout: 900,
      ReceiveMessageWaitTimeSeconds: 20,
      SqsManagedSseEnabled: true,
    });
  });

  it("keeps dead letters 14 days, encrypted", () => {
    template.hasResourceProperties("AWS::SQS::Queue", {
      MessageRetentionPeriod: 1_209_600,
      SqsManagedSseEnabled: true,
      RedrivePolicy: Match.absent(),
    });
  });

  it("denies non-TLS access to both queues", () => {
    template.hasResourceProperties("AWS::SQS::QueuePolicy", {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: "Deny", Condition: { Bool: { "aws:SecureTransport": "false" } } }),
        ]),
      },
    });
  });

  it("rejects a zero receive count and a too short visibility timeout together", () => {
    const build = () =>
      new JobQueue(stack, "Bad", { maxReceiveCount: 0, visibilityTimeout: Duration.seconds(10) });
    expect(build).toThrow(/maxReceiveCount[\s\S]*visibilityTimeout/);
  });
});
