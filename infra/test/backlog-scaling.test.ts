import { Match, type Template } from "aws-cdk-lib/assertions";
import { beforeAll, describe, expect, it } from "vitest";
import { BACKLOG_PER_TASK_EXPRESSION, WAKE_EXPRESSION } from "../lib/backlog-scaling-defaults.ts";
import { synthTroupe } from "./fixtures/stacks.ts";

describe("BacklogScaling (target 3, at most 5 tasks)", () => {
  let template: Template;
  beforeAll(() => {
    ({ template } = synthTroupe({ targetBacklogPerTask: 3, maxTasks: 5 }));
  });

  it("scales the runner service's desired count between 0 and maxTasks", () => {
    template.hasResourceProperties("AWS::ApplicationAutoScaling::ScalableTarget", {
      ServiceNamespace: "ecs",
      ScalableDimension: "ecs:service:DesiredCount",
      MinCapacity: 0,
      MaxCapacity: 5,
    });
  });

  it("tracks backlog per task: queue messages over running tasks, division by zero guarded", () => {
    template.hasResourceProperties("AWS::ApplicationAutoScaling::ScalingPolicy", {
      PolicyType: "TargetTrackingScaling",
      TargetTrackingScalingPolicyConfiguration: Match.objectLike({
        TargetValue: 3,
        CustomizedMetricSpecification: {
          Metrics: [
            Match.objectLike({
              Id: "visible",
              MetricStat: Match.objectLike({
                Metric: Match.objectLike({ Namespace: "AWS/SQS", MetricName: "ApproximateNumberOfMessagesVisible" }),
              }),
              ReturnData: false,
            }),
            Match.objectLike({
              Id: "inFlight",
              MetricStat: Match.objectLike({
                Metric: Match.objectLike({ Namespace: "AWS/SQS", MetricName: "ApproximateNumberOfMessagesNotVisible" }),
              }),
            }),
            Match.objectLike({
              Id: "running",
              MetricStat: Match.objectLike({
                Metric: Match.objectLike({ Namespace: "ECS/ContainerInsights", MetricName: "RunningTaskCount" }),
              }),
            }),
            { Id: "runningOrZero", Expression: "FILL(running, 0)", ReturnData: false },
            Match.objectLike({ Id: "backlogPerTask", Expression: BACKLOG_PER_TASK_EXPRESSION, ReturnData: true }),
          ],
        },
      }),
    });
    expect(BACKLOG_PER_TASK_EXPRESSION).toMatch(/^IF\(runningOrZero > 0, \(visible \+ inFlight\) \/ runningOrZero,/);
  });

  it("wakes the service from 0 with a +1 step when jobs wait and no task is desired", () => {
    template.hasResourceProperties("AWS::ApplicationAutoScaling::ScalingPolicy", {
      PolicyType: "StepScaling",
      StepScalingPolicyConfiguration: Match.objectLike({
        AdjustmentType: "ChangeInCapacity",
        StepAdjustments: [{ MetricIntervalLowerBound: 0, ScalingAdjustment: 1 }],
      }),
    });
    template.hasResourceProperties("AWS::CloudWatch::Alarm", {
      ComparisonOperator: "GreaterThanOrEqualToThreshold",
      Threshold: 1,
      Metrics: Match.arrayWith([Match.objectLike({ Expression: WAKE_EXPRESSION, ReturnData: true })]),
    });
  });
});
