import { Duration } from "aws-cdk-lib";
import * as appscaling from "aws-cdk-lib/aws-applicationautoscaling";
import * as cloudwatch from "aws-cdk-lib/aws-cloudwatch";
import type * as ecs from "aws-cdk-lib/aws-ecs";
import type * as sqs from "aws-cdk-lib/aws-sqs";
import { Construct } from "constructs";
import {
  DEFAULT_TARGET_BACKLOG_PER_TASK,
  WAKE_EXPRESSION,
  backlogPerTaskQueries,
} from "./backlog-scaling-defaults.ts";
import { DEFAULT_MAX_TASKS } from "./gpu-cluster-defaults.ts";
import { assertValid, integerIn, positiveUpTo } from "./validate-props.ts";

export interface BacklogScalingProps {
  readonly service: ecs.Ec2Service;
  readonly cluster: ecs.ICluster;
  readonly queue: sqs.IQueue;
  /**
   * Most runner tasks.
   * @default 4
   */
  readonly maxTasks?: number;
  /**
   * Jobs per task the service aims at (waiting + in progress). Lower means faster, costlier.
   * @default 2
   */
  readonly targetBacklogPerTask?: number;
  /**
   * Wait after a scale-in before the next one.
   * @default Duration.minutes(5)
   */
  readonly scaleInCooldown?: Duration;
  /**
   * Wait after a scale-out before the next one.
   * @default Duration.minutes(2)
   */
  readonly scaleOutCooldown?: Duration;
}

/**
 * Runner task count from 0 to `maxTasks`: target tracking on backlog per task (metric math, so an L1
 * policy: the L2 accepts direct metrics only), plus a step policy that wakes the service from 0.
 */
export class BacklogScaling extends Construct {
  public readonly scalableTarget: appscaling.ScalableTarget;
  public readonly backlogPolicy: appscaling.CfnScalingPolicy;
  public readonly wakePolicy: appscaling.StepScalingPolicy;

  constructor(scope: Construct, id: string, props: BacklogScalingProps) {
    super(scope, id);
    assertValid("BacklogScaling", [
      integerIn("maxTasks", props.maxTasks, 1, 1000),
      positiveUpTo("targetBacklogPerTask", props.targetBacklogPerTask, 10_000),
    ]);
    const { service, cluster, queue } = props;

    this.scalableTarget = new appscaling.ScalableTarget(this, "Target", {
      serviceNamespace: appscaling.ServiceNamespace.ECS,
      resourceId: `service/${cluster.clusterName}/${service.serviceName}`,
      scalableDimension: "ecs:service:DesiredCount",
      minCapacity: 0,
      maxCapacity: props.maxTasks ?? DEFAULT_MAX_TASKS,
    });

    this.backlogPolicy = new appscaling.CfnScalingPolicy(this, "BacklogPerTask", {
      policyName: "troupe-backlog-per-task",
      policyType: "TargetTrackingScaling",
      scalingTargetId: this.scalableTarget.scalableTargetId,
      targetTrackingScalingPolicyConfiguration: {
        targetValue: props.targetBacklogPerTask ?? DEFAULT_TARGET_BACKLOG_PER_TASK,
        scaleInCooldown: (props.scaleInCooldown ?? Duration.minutes(5)).toSeconds(),
        scaleOutCooldown: (props.scaleOutCooldown ?? Duration.minutes(2)).toSeconds(),
        customizedMetricSpecification: {
          metrics: backlogPerTaskQueries({
            queueName: queue.queueName,
            clusterName: cluster.clusterName,
            serviceName: service.serviceName,
          }),
        },
      },
    });

    this.wakePolicy = this.scalableTarget.scaleOnMetric("WakeFromZero", {
      metric: new cloudwatch.MathExpression({
        expression: WAKE_EXPRESSION,
        label: "Jobs waiting with no task desired",
        period: Duration.minutes(1),
        usingMetrics: {
          visible: queue.metricApproximateNumberOfMessagesVisible({ statistic: "Maximum" }),
          desired: new cloudwatch.Metric({
            namespace: "ECS/ContainerInsights",
            metricName: "DesiredTaskCount",
            dimensionsMap: { ClusterName: cluster.clusterName, ServiceName: service.serviceName },
            statistic: "Maximum",
          }),
        },
      }),
      adjustmentType: appscaling.AdjustmentType.CHANGE_IN_CAPACITY,
      // Only the upper step acts: +1 task when a job waits and none is desired. Never scales in.
      scalingSteps: [
        { upper: 0, change: 0 },
        { lower: 1, change: +1 },
      ],
      evaluationPeriods: 1,
      cooldown: Duration.minutes(1),
    });
  }
}
