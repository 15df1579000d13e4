import { Duration } from "aws-cdk-lib";

export const DEFAULT_INSTANCE_TYPE = "g5.xlarge";
/** One GPU per g5.xlarge, one runner per GPU: tasks and instances scale together. */
export const DEFAULT_MAX_TASKS = 4;
/** Root volume: the GPU AMI (~30 GB) plus a multi-GB CUDA image and the model bundle cache. */
export const DEFAULT_ROOT_VOLUME_GIB = 100;

/**
 * Lines appended to /etc/ecs/ecs.config on every container instance.
 *
 * ECS_CONTAINER_STOP_TIMEOUT is the agent-wide SIGTERM→SIGKILL wait; the task definition's stopTimeout
 * sets the same per container, and both are set so that neither a missing task setting nor an agent
 * default (30 s) can cut the runner's grace period short.
 */
export function ecsAgentConfig(stopTimeout: Duration, spot: boolean): string[] {
  const lines = [
    `ECS_CONTAINER_STOP_TIMEOUT=${stopTimeout.toSeconds()}s`,
    "ECS_ENABLE_GPU_SUPPORT=true",
    // Keep the pulled multi-GB runner image across task restarts instead of pulling it again.
    "ECS_IMAGE_PULL_BEHAVIOR=prefer-cached",
  ];
  // A Spot interruption notice drains the instance: ECS stops the task with SIGTERM (the runner's
  // grace period) and starts a replacement elsewhere. CDK adds this line only for launch-configuration
  // Spot (spotPrice), not for a mixed-instances policy, so it is written here.
  if (spot) lines.push("ECS_ENABLE_SPOT_INSTANCE_DRAINING=true");
  return lines;
}

/** Shell commands writing the lines above (`cluster.addAsgCapacityProvider` adds ECS_CLUSTER). */
export function ecsAgentUserData(stopTimeout: Duration, spot: boolean): string[] {
  return ecsAgentConfig(stopTimeout, spot).map((line) => `echo "${line}" >> /etc/ecs/ecs.config`);
}
