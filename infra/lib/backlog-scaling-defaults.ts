import type { CfnScalingPolicy } from "aws-cdk-lib/aws-applicationautoscaling";

export const DEFAULT_TARGET_BACKLOG_PER_TASK = 2;

/** Names the metric math below refers to. */
export interface BacklogMetricNames {
  readonly queueName: string;
  readonly clusterName: string;
  readonly serviceName: string;
}

/**
 * Backlog per task = (messages waiting + messages being worked on) ÷ running tasks.
 *
 * - In-flight messages count too: a task busy with a job is not idle, so a steady trickle of jobs
 *   keeps one task instead of scaling to 0 between every job (a cold start is minutes on g5).
 * - Division by zero: RunningTaskCount is missing or 0 when the service is at 0 tasks. FILL turns the
 *   gap into 0 and IF then reports the whole backlog as if one task held it, so the metric stays
 *   defined (no INSUFFICIENT_DATA) and, once a task is pending, target tracking sizes the service from it.
 *   Target tracking multiplies the current capacity, so at capacity 0 it cannot scale out by itself:
 *   the step policy of `WAKE_EXPRESSION` does the 0 → 1.
 */
export const BACKLOG_PER_TASK_EXPRESSION =
  "IF(runningOrZero > 0, (visible + inFlight) / runningOrZero, visible + inFlight)";

/** Messages waiting while the service wants 0 tasks: ≥ 1 means "wake up"; 0 once a task is desired. */
export const WAKE_EXPRESSION = "IF(FILL(desired, 0) == 0, FILL(visible, 0), 0)";

type Query = CfnScalingPolicy.TargetTrackingMetricDataQueryProperty;

function stat(id: string, namespace: string, metricName: string, dims: Record<string, string>): Query {
  return {
    id,
    metricStat: {
      metric: {
        namespace,
        metricName,
        dimensions: Object.entries(dims).map(([name, value]) => ({ name, value })),
      },
      stat: "Average",
    },
    returnData: false,
  };
}

/** The metric-math queries of the target-tracking policy (CloudFormation shape). */
export function backlogPerTaskQueries(names: BacklogMetricNames): Query[] {
  const queue = { QueueName: names.queueName };
  const service = { ClusterName: names.clusterName, ServiceName: names.serviceName };
  return [
    stat("visible", "AWS/SQS", "ApproximateNumberOfMessagesVisible", queue),
    stat("inFlight", "AWS/SQS", "ApproximateNumberOfMessagesNotVisible", queue),
    stat("running", "ECS/ContainerInsights", "RunningTaskCount", service),
    { id: "runningOrZero", expression: "FILL(running, 0)", returnData: false },
    { id: "backlogPerTask", expression: BACKLOG_PER_TASK_EXPRESSION, label: "Backlog per task", returnData: true },
  ];
}
