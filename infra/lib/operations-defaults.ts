import { Duration } from "aws-cdk-lib";

export const DEFAULT_OLDEST_MESSAGE_AGE = Duration.minutes(15);
export const DEFAULT_API_ERROR_RATE_PERCENT = 5;
/** How long the runner service may sit below its desired count before it counts as failing. */
export const DEFAULT_BELOW_DESIRED_MINUTES = 30;

/**
 * Percentage of API requests that failed: Lambda errors (crash, timeout) or 5xx responses from the
 * app, whichever is larger per period, over invocations. IF keeps an idle minute at 0 instead of
 * dividing by zero; FILL makes a period with no errors reported count as 0 errors.
 */
export const API_ERROR_RATE_EXPRESSION =
  "IF(invocations > 0, 100 * MAX([FILL(errors, 0), FILL(url5xx, 0)]) / invocations, 0)";

/** Runner tasks missing: desired minus running, 0 when Container Insights reports nothing. */
export const TASKS_BELOW_DESIRED_EXPRESSION = "FILL(desired, 0) - FILL(running, 0)";

/**
 * CloudWatch Logs filter pattern over the runner's JSON lines (`{"time","service","event",…}`, see
 * gpu-runner/src/worker/deps.ts): a crashed loop iteration, an unreadable message, a job failed for an
 * internal reason (a user's bad input fails a job too, and pages nobody), or any `"level":"error"` line.
 */
export const RUNNER_ERROR_FILTER_PATTERN =
  '{ ($.event = "worker_error") || ($.event = "message_malformed") || ' +
  '(($.event = "job_failed") && ($.code = "internal_error")) || ($.level = "error") }';
