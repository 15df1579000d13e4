import { Match, type Template } from "aws-cdk-lib/assertions";
import { beforeAll, describe, expect, it } from "vitest";
import { API_ERROR_RATE_EXPRESSION } from "../lib/operations-defaults.ts";
import { synthTroupe } from "./fixtures/stacks.ts";

describe("TroupeStack: operations and outputs", () => {
  let template: Template;
  beforeAll(() => {
    ({ template } = synthTroupe({ alarmEmail: "ops@example.com" }));
  });

  it("subscribes the alarm email to the topic", () => {
    template.hasResourceProperties("AWS::SNS::Subscription", { Protocol: "email", Endpoint: "ops@example.com" });
  });

  const notifies = { AlarmActions: [{ Ref: Match.stringLikeRegexp("OperationsAlarmTopic") }] };

  it("alarms as soon as a message reaches the DLQ", () => {
    template.hasResourceProperties("AWS::CloudWatch::Alarm", {
      Namespace: "AWS/SQS",
      MetricName: "ApproximateNumberOfMessagesVisible",
      Dimensions: [{ Name: "QueueName", Value: { "Fn::GetAtt": [Match.stringLikeRegexp("JobsDeadLetterQueue"), "QueueName"] } }],
      ComparisonOperator: "GreaterThanThreshold",
      Threshold: 0,
      ...notifies,
    });
  });

  it("alarms when the oldest job waited longer than 15 minutes", () => {
    template.hasResourceProperties("AWS::CloudWatch::Alarm", {
      MetricName: "ApproximateAgeOfOldestMessage",
      Threshold: 900,
      ComparisonOperator: "GreaterThanThreshold",
      ...notifies,
    });
  });

  it("alarms on an API error rate above 5 %", () => {
    template.hasResourceProperties("AWS::CloudWatch::Alarm", {
      Threshold: 5,
      Metrics: Match.arrayWith([
        Match.objectLike({ Expression: API_ERROR_RATE_EXPRESSION, ReturnData: true }),
        Match.objectLike({ Id: "errors", MetricStat: Match.objectLike({ Metric: Match.objectLike({ MetricName: "Errors" }) }) }),
      ]),
      ...notifies,
    });
  });

  it("counts runner errors from its JSON log and alarms on any", () => {
    template.hasResourceProperties("AWS::Logs::MetricFilter", {
      LogGroupName: { Ref: Match.stringLikeRegexp("RunnerLogs") },
      FilterPattern: Match.stringLikeRegexp('\\$\\.event = "worker_error"'),
      MetricTransformations: [Match.objectLike({ MetricNamespace: "Troupe", MetricName: "RunnerErrors", MetricValue: "1" })],
    });
    template.hasResourceProperties("AWS::CloudWatch::Alarm", { MetricName: "RunnerErrors", Threshold: 0, ...notifies });
  });

  it("alarms when runner tasks stay below the desired count for 30 minutes", () => {
    template.hasResourceProperties("AWS::CloudWatch::Alarm", {
      EvaluationPeriods: 6,
      Metrics: Match.arrayWith([Match.objectLike({ Expression: "FILL(desired, 0) - FILL(running, 0)" })]),
      ...notifies,
    });
  });

  it("outputs the API URL, bucket, queues and tables", () => {
    const outputs = template.findOutputs("*");
    expect(Object.keys(outputs)).toEqual(
      expect.arrayContaining([
        "ApiUrl",
        "BucketName",
        "QueueUrl",
        "DlqUrl",
        "KeysTableName",
        "JobsTableName",
        "UsageTableName",
        "BundleUri",
      ]),
    );
    template.hasOutput("ApiUrl", { Value: { "Fn::GetAtt": [Match.stringLikeRegexp("ApiFunctionFunctionUrl"), "FunctionUrl"] } });
    template.hasOutput("DlqUrl", { Value: { Ref: Match.stringLikeRegexp("JobsDeadLetterQueue") } });
  });

  it("rejects a bundle that is not an s3:// URI", () => {
    expect(() => synthTroupe({ bundleUri: "https://example.com/model" })).toThrow(/bundleUri must look like s3:\/\/bucket\/prefix/);
  });
});
