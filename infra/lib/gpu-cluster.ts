import * as autoscaling from "aws-cdk-lib/aws-autoscaling";
import * as ec2 from "aws-cdk-lib/aws-ec2";
import * as ecs from "aws-cdk-lib/aws-ecs";
import * as iam from "aws-cdk-lib/aws-iam";
import { Duration } from "aws-cdk-lib";
import { Construct } from "constructs";
import {
  DEFAULT_INSTANCE_TYPE,
  DEFAULT_MAX_TASKS,
  DEFAULT_ROOT_VOLUME_GIB,
  ecsAgentUserData,
} from "./gpu-cluster-defaults.ts";
import { assertValid, integerIn } from "./validate-props.ts";

export interface GpuClusterProps {
  /**
   * EC2 instance type of the container instances (one NVIDIA GPU each for the g5 family's smallest sizes).
   * @default "g5.xlarge"
   */
  readonly instanceType?: string;
  /**
   * Most instances (and so runner tasks) at once.
   * @default 4
   */
  readonly maxInstances?: number;
  /**
   * Run on Spot (about a third of the on-demand price) with capacity rebalancing; a reclaimed
   * instance drains, and the runner releases or finishes its job on SIGTERM.
   * @default false
   */
  readonly spot?: boolean;
  /**
   * How long ECS waits after SIGTERM before SIGKILL, written into the ECS agent's config.
   * @default Duration.seconds(120)
   */
  readonly stopTimeout?: Duration;
  /**
   * Availability zones to use. Give them when the stack has a concrete region, so that no
   * availability-zone context lookup happens at synth; otherwise the first two of the region.
   * @default - two AZs of the region, resolved at deploy time (Fn::GetAZs)
   */
  readonly availabilityZones?: string[];
}

export const DEFAULT_STOP_TIMEOUT = Duration.seconds(120);

/**
 * The VPC, the ECS cluster and its GPU capacity: an Auto Scaling group of g5 instances on the ECS
 * GPU-optimized AMI, behind a capacity provider with managed scaling from 0.
 *
 * Networking: public subnets only, no NAT gateway (≈ $33/month each, even when idle). Instances get a
 * public IP for ECR, SQS and CloudWatch, accept no inbound traffic (the runner only makes outbound
 * calls), and reach S3 and DynamoDB through free gateway endpoints.
 */
export class GpuCluster extends Construct {
  public readonly vpc: ec2.Vpc;
  public readonly cluster: ecs.Cluster;
  public readonly autoScalingGroup: autoscaling.AutoScalingGroup;
  public readonly capacityProvider: ecs.AsgCapacityProvider;
  public readonly securityGroup: ec2.SecurityGroup;

  constructor(scope: Construct, id: string, props: GpuClusterProps = {}) {
    super(scope, id);
    assertValid("GpuCluster", [
      integerIn("maxInstances", props.maxInstances, 1, 1000),
      integerIn("stopTimeout (seconds)", props.stopTimeout?.toSeconds(), 120, 3600),
      props.availabilityZones !== undefined && props.availabilityZones.length < 1
        ? "availabilityZones must name at least one zone"
        : undefined,
    ]);
    const spot = props.spot ?? false;
    const instanceType = new ec2.InstanceType(props.instanceType ?? DEFAULT_INSTANCE_TYPE);

    this.vpc = new ec2.Vpc(this, "Vpc", {
      maxAzs: props.availabilityZones ? undefined : 2,
      availabilityZones: props.availabilityZones,
      natGateways: 0,
      subnetConfiguration: [{ name: "public", subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24 }],
      gatewayEndpoints: {
        S3: { service: ec2.GatewayVpcEndpointAwsService.S3 },
        DynamoDB: { service: ec2.GatewayVpcEndpointAwsService.DYNAMODB },
      },
    });
    this.cluster = new ecs.Cluster(this, "Cluster", {
      vpc: this.vpc,
      // Container Insights publishes RunningTaskCount/DesiredTaskCount, which the backlog scaling needs.
      containerInsightsV2: ecs.ContainerInsights.ENABLED,
    });
    this.securityGroup = new ec2.SecurityGroup(this, "InstanceSecurityGroup", {
      vpc: this.vpc,
      description: "Troupe GPU runners: no inbound, outbound HTTPS to AWS APIs",
      allowAllOutbound: true,
    });

    const userData = ec2.UserData.forLinux();
    userData.addCommands(...ecsAgentUserData(props.stopTimeout ?? DEFAULT_STOP_TIMEOUT, spot));
    const launchTemplate = new ec2.LaunchTemplate(this, "LaunchTemplate", {
      machineImage: ecs.EcsOptimizedImage.amazonLinux2(ecs.AmiHardwareType.GPU),
      instanceType,
      userData,
      role: new iam.Role(this, "InstanceRole", { assumedBy: new iam.ServicePrincipal("ec2.amazonaws.com") }),
      securityGroup: this.securityGroup,
      associatePublicIpAddress: true,
      httpTokens: ec2.LaunchTemplateHttpTokens.REQUIRED,
      blockDevices: [
        {
          deviceName: "/dev/xvda",
          volume: ec2.BlockDeviceVolume.ebs(DEFAULT_ROOT_VOLUME_GIB, {
            volumeType: ec2.EbsDeviceVolumeType.GP3,
            encrypted: true,
          }),
        },
      ],
    });

    this.autoScalingGroup = new autoscaling.AutoScalingGroup(this, "Instances", {
      vpc: this.vpc,
      vpcSubnets: { subnetType: ec2.SubnetType.PUBLIC },
      minCapacity: 0,
      maxCapacity: props.maxInstances ?? DEFAULT_MAX_TASKS,
      ...(spot ? spotCapacity(launchTemplate, instanceType) : { launchTemplate }),
    });

    this.capacityProvider = new ecs.AsgCapacityProvider(this, "CapacityProvider", {
      autoScalingGroup: this.autoScalingGroup,
      enableManagedScaling: true,
      targetCapacityPercent: 100,
      // ECS decides which instance may go: never one still running a runner task.
      enableManagedTerminationProtection: true,
      enableManagedDraining: true,
      machineImageType: ecs.MachineImageType.AMAZON_LINUX_2,
    });
    this.cluster.addAsgCapacityProvider(this.capacityProvider);
  }
}

/** All-Spot mixed-instances policy with capacity rebalancing (launch a replacement on a rebalance hint). */
function spotCapacity(
  launchTemplate: ec2.LaunchTemplate,
  instanceType: ec2.InstanceType,
): Pick<autoscaling.AutoScalingGroupProps, "mixedInstancesPolicy" | "capacityRebalance"> {
  return {
    capacityRebalance: true,
    mixedInstancesPolicy: {
      launchTemplate,
      launchTemplateOverrides: [{ instanceType }],
      instancesDistribution: {
        onDemandBaseCapacity: 0,
        onDemandPercentageAboveBaseCapacity: 0,
        spotAllocationStrategy: autoscaling.SpotAllocationStrategy.PRICE_CAPACITY_OPTIMIZED,
      },
    },
  };
}
