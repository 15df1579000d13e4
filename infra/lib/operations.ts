import { CfnOutput, Duration } from "aws-cdk-lib";
import * as cloudwatch from "aws-cdk-lib/aws-cloudwatch";
import * as actions from "aws-cdk-lib/aws-cloudwatch-actions";
import type * as ecs from "aws-cdk-lib/aws-ecs";
import type * as lambda from "aws-cdk-lib/aws-lambda";
import * as logs from "aws-cdk-lib/aws-logs";
import * as sns from "aws-cdk-lib/aws-sns";
import * as subscriptions from "aws-cdk-lib/aws-sns-subscriptions";
import type * as sqs from "aws-cdk-lib/aws-sqs";
import { Construct } from "constructs";
import {
  API_ERROR_RATE_EXPRESSION,
  DEFAULT_API_ERROR_RATE_PERCENT,
  DEFAULT_BELOW_DESIRED_MINUTES,
  DEFAULT_OLDEST_MESSAGE_AGE,
  RUNNER_ERROR_FILTER_PATTERN,
  TASKS_BELOW_DESIRED_EXPRESSION,
} from "./operations-defaults.ts";
import { assertValid, emailAddress, integerIn, positiveUpTo } from "./validate-props.ts";

export interface OperationsProps {
  readonly queue: sqs.IQueue;
  readonly deadLetterQueue: sqs.IQueue;
  readonly apiFunction: lambda.IFunction;
  readonly runnerLogGroup: logs.ILogGroup;
  readonly runnerService: ecs.IBaseService;
  readonly cluster: ecs.ICluster;
  /**
   * An address subscribed to the alarm topic (it must confirm the subscription email).
   * @default - no subscription; subscribe to the `AlarmTopicArn` output yourself
   */
  readonly alarmEmail?: string;
  /**
   * Alarm when the oldest queued job has waited longer than this.
   * @default Duration.minutes(15)
   */
  readonly oldestMessageAgeThreshold?: Duration;
  /**
   * Alarm when more than this percentage of API requests fail over 5 minutes.
   * @default 5
   */
  readonly apiErrorRatePercent?: number;
}

/**
 * The alarm topic and the alarms an operator acts on. Runner failures are watched two ways, because
 * each misses what the other sees: an error-log metric filter catches jobs that fail while tasks are
 * up; "running below desired for 30 minutes" catches tasks that never start (image, GPU, Spot capacity).
 * A shorter window would fire on every cold start, which takes minutes on g5.
 */
export class Operations extends Construct {
  public readonly topic: sns.Topic;
  public readonly deadLetterAlarm: cloudwatch.Alarm;
  public readonly oldestMessageAlarm: cloudwatch.Alarm;
  public readonly apiErrorRateAlarm: cloudwatch.Alarm;
  public readonly runnerErrorsAlarm: cloudwatch.Alarm;
  public readonly runnerTasksAlarm: cloudwatch.Alarm;

  constructor(scope: Construct, id: string, props: OperationsProps) {
    super(scope, id);
    assertValid("Operations", [
      emailAddress("alarmEmail", props.alarmEmail),
      integerIn("oldestMessageAgeThreshold (seconds)", props.oldestMessageAgeThreshold?.toSeconds(), 60, 1_209_600),
      positiveUpTo("apiErrorRatePercent", props.apiErrorRatePercent, 100),
    ]);

    this.topic = new sns.Topic(this, "AlarmTopic", { displayName: "Troupe alarms", enforceSSL: true });
    if (props.alarmEmail) this.topic.addSubscription(new subscriptions.EmailSubscription(props.alarmEmail));
    new CfnOutput(this, "AlarmTopicArn", { value: this.topic.topicArn });

    this.deadLetterAlarm = this.alarm("DeadLetters", {
      alarmDescription: "Jobs reached the DLQ: they failed maxReceiveCount times.",
      metric: props.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ statistic: "Maximum" }),
      threshold: 0,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
    });
    this.oldestMessageAlarm = this.alarm("OldestJob", {
      alarmDescription: "A queued job has waited too long: runners are down, saturated or not scaling.",
      metric: props.queue.metricApproximateAgeOfOldestMessage({ statistic: "Maximum" }),
      threshold: (props.oldestMessageAgeThreshold ?? DEFAULT_OLDEST_MESSAGE_AGE).toSeconds(),
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
    });
    this.apiErrorRateAlarm = this.alarm("ApiErrorRate", {
      alarmDescription: "More API requests fail (Lambda errors or 5xx) than the threshold percentage.",
      metric: apiErrorRate(props.apiFunction),
      threshold: props.apiErrorRatePercent ?? DEFAULT_API_ERROR_RATE_PERCENT,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
    });
    this.runnerErrorsAlarm = this.alarm("RunnerErrors", {
      alarmDescription: "The runner logged errors (worker_error, malformed messages, internal job failures).",
      metric: runnerErrorMetric(this, props.runnerLogGroup),
      threshold: 0,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
    });
    this.runnerTasksAlarm = this.alarm("RunnerTasksBelowDesired", {
      alarmDescription: "Runner tasks have stayed below the desired count for 30 minutes.",
      metric: tasksBelowDesired(props.cluster, props.runnerService),
      threshold: 0,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: DEFAULT_BELOW_DESIRED_MINUTES / 5,
    });
  }

  /** Every alarm: one period unless told, missing data is fine (an idle queue reports nothing), notifies the topic. */
  private alarm(id: string, props: Omit<cloudwatch.AlarmProps, "evaluationPeriods"> & { evaluationPeriods?: number }): cloudwatch.Alarm {
    const alarm = new cloudwatch.Alarm(this, id, {
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      ...props,
    });
    alarm.addAlarmAction(new actions.SnsAction(this.topic));
    return alarm;
  }
}

function apiErrorRate(fn: lambda.IFunction): cloudwatch.MathExpression {
  return new cloudwatch.MathExpression({
    expression: API_ERROR_RATE_EXPRESSION,
    label: "API error rate (%)",
    period: Duration.minutes(5),
    usingMetrics: {
      errors: fn.metricErrors({ statistic: "Sum" }),
      url5xx: fn.metric("Url5xxCount", { statistic: "Sum" }),
      invocations: fn.metricInvocations({ statistic: "Sum" }),
    },
  });
}

function runnerErrorMetric(scope: Construct, logGroup: logs.ILogGroup): cloudwatch.Metric {
  const filter = new logs.MetricFilter(scope, "RunnerErrorFilter", {
    logGroup,
    filterPattern: logs.FilterPattern.literal(RUNNER_ERROR_FILTER_PATTERN),
    metricNamespace: "Troupe",
    metricName: "RunnerErrors",
    metricValue: "1",
    defaultValue: 0,
  });
  return filter.metric({ statistic: "Sum", period: Duration.minutes(5) });
}

function tasksBelowDesired(cluster: ecs.ICluster, service: ecs.IBaseService): cloudwatch.MathExpression {
  const dimensionsMap = { ClusterName: cluster.clusterName, ServiceName: service.serviceName };
  const insight = (metricName: string): cloudwatch.Metric =>
    new cloudwatch.Metric({ namespace: "ECS/ContainerInsights", metricName, dimensionsMap, statistic: "Average" });
  return new cloudwatch.MathExpression({
    expression: TASKS_BELOW_DESIRED_EXPRESSION,
    label: "Runner tasks below desired",
    period: Duration.minutes(5),
    usingMetrics: { desired: insight("DesiredTaskCount"), running: insight("RunningTaskCount") },
  });
}
