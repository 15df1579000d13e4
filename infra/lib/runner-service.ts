import { Duration, Stack } from "aws-cdk-lib";
import * as ecs from "aws-cdk-lib/aws-ecs";
import * as iam from "aws-cdk-lib/aws-iam";
import * as logs from "aws-cdk-lib/aws-logs";
import { Construct } from "constructs";
import { grantRuntimeAccess, runnerStatements } from "./access-policies.ts";
import { DEFAULT_STOP_TIMEOUT, type GpuCluster } from "./gpu-cluster.ts";
import { runnerImageFromAsset } from "./runner-image.ts";
import { runnerEnvironment, type RuntimeResources } from "./runtime-environment.ts";
import { assertValid, integerIn } from "./validate-props.ts";

export interface RunnerServiceProps extends RuntimeResources {
  readonly gpuCluster: GpuCluster;
  /**
   * The runner's container image.
   * @default the image built from gpu-runner/Dockerfile (see runner-image.ts)
   */
  readonly image?: ecs.ContainerImage;
  /**
   * Memory reserved for the container (soft limit; a g5.xlarge registers about 15 GiB).
   * @default 12288
   */
  readonly memoryReservationMiB?: number;
  /**
   * SIGTERM→SIGKILL wait; must match the cluster's agent setting.
   * @default Duration.seconds(120)
   */
  readonly stopTimeout?: Duration;
  /**
   * Seconds the runner gives its current job after SIGTERM before releasing it (TROUPE_SHUTDOWN_GRACE_S);
   * must leave time before stopTimeout to upload or change the message visibility.
   * @default 90
   */
  readonly shutdownGraceSeconds?: number;
  /**
   * How long the runner's logs are kept.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
}

export const DEFAULT_MEMORY_RESERVATION_MIB = 12_288;
export const DEFAULT_SHUTDOWN_GRACE_S = 90;
/** What the runner needs after its grace period: write the record, release the message. */
const SHUTDOWN_MARGIN_S = 10;

/** The runner: an EC2 task definition reserving one GPU, and the ECS service that runs it (from 0). */
export class RunnerService extends Construct {
  public readonly taskDefinition: ecs.Ec2TaskDefinition;
  public readonly container: ecs.ContainerDefinition;
  public readonly service: ecs.Ec2Service;
  public readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: RunnerServiceProps) {
    super(scope, id);
    const stopTimeout = props.stopTimeout ?? DEFAULT_STOP_TIMEOUT;
    const grace = props.shutdownGraceSeconds ?? DEFAULT_SHUTDOWN_GRACE_S;
    assertValid("RunnerService", [
      integerIn("memoryReservationMiB", props.memoryReservationMiB, 1024, 768 * 1024),
      integerIn("stopTimeout (seconds)", stopTimeout.toSeconds(), 120, 3600),
      integerIn("shutdownGraceSeconds", grace, 0, stopTimeout.toSeconds() - SHUTDOWN_MARGIN_S),
    ]);

    this.logGroup = new logs.LogGroup(this, "Logs", {
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
    });
    this.taskDefinition = new ecs.Ec2TaskDefinition(this, "TaskDefinition", {
      networkMode: ecs.NetworkMode.BRIDGE,
    });
    this.container = this.taskDefinition.addContainer("runner", {
      image: props.image ?? runnerImageFromAsset(),
      gpuCount: 1,
      memoryReservationMiB: props.memoryReservationMiB ?? DEFAULT_MEMORY_RESERVATION_MIB,
      environment: runnerEnvironment(props, { shutdownGraceSeconds: grace, region: Stack.of(this).region }),
      stopTimeout,
      logging: ecs.LogDrivers.awsLogs({ logGroup: this.logGroup, streamPrefix: "runner" }),
      essential: true,
    });
    grantRuntimeAccess(this.taskDefinition.taskRole, runnerStatements(this, props), props);

    const { cluster, capacityProvider } = props.gpuCluster;
    // The runner asks the ECS agent to protect its task from scale-in while a job runs; the agent
    // makes that call with the task role, limited to this cluster's tasks.
    this.taskDefinition.taskRole.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: "ScaleInProtection",
        actions: ["ecs:UpdateTaskProtection", "ecs:GetTaskProtection"],
        resources: [Stack.of(this).formatArn({ service: "ecs", resource: "task", resourceName: `${cluster.clusterName}/*` })],
      }),
    );
    this.service = new ecs.Ec2Service(this, "Service", {
      cluster,
      taskDefinition: this.taskDefinition,
      // Scaling owns the count; the service starts at zero so an idle deployment costs no GPU.
      desiredCount: 0,
      capacityProviderStrategies: [{ capacityProvider: capacityProvider.capacityProviderName, weight: 1 }],
      // Queue workers tolerate a full stop: a stopped runner releases its message and another redoes it.
      minHealthyPercent: 0,
      maxHealthyPercent: 200,
      circuitBreaker: { rollback: true },
      placementStrategies: [ecs.PlacementStrategy.packedByMemory()],
    });
  }
}
