import { Duration } from "aws-cdk-lib";
import { Match, type Template } from "aws-cdk-lib/assertions";
import { beforeAll, describe, expect, it } from "vitest";
import { synthTroupe } from "./fixtures/stacks.ts";

describe("GpuCluster (Spot, 6 instances, 180 s stop timeout)", () => {
  let template: Template;
  beforeAll(() => {
    ({ template } = synthTroupe({ spot: true, maxTasks: 6, stopTimeout: Duration.seconds(180) }));
  });

  it("has two public subnets and no NAT gateway", () => {
    template.hasResourceProperties("AWS::EC2::Subnet", { MapPublicIpOnLaunch: true });
    expect(Object.keys(template.findResources("AWS::EC2::NatGateway"))).toEqual([]);
    expect(
      Object.values(template.findResources("AWS::EC2::Subnet")).map((s) => s.Properties.MapPublicIpOnLaunch),
    ).toEqual([true, true]);
  });

  it("reaches S3 and DynamoDB through gateway endpoints", () => {
    for (const service of ["s3", "dynamodb"]) {
      template.hasResourceProperties("AWS::EC2::VPCEndpoint", {
        VpcEndpointType: "Gateway",
        ServiceName: { "Fn::Join": ["", ["com.amazonaws.", { Ref: "AWS::Region" }, `.${service}`]] },
      });
    }
  });

  it("enables Container Insights (the scaling reads RunningTaskCount from it)", () => {
    template.hasResourceProperties("AWS::ECS::Cluster", {
      ClusterSettings: [{ Name: "containerInsights", Value: "enabled" }],
    });
  });

  it("launches g5.xlarge on the ECS GPU-optimized Amazon Linux 2 AMI, IMDSv2 only", () => {
    template.hasParameter("*", {
      Type: "AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>",
      Default: "/aws/service/ecs/optimized-ami/amazon-linux-2/gpu/recommended/image_id",
    });
    template.hasResourceProperties("AWS::EC2::LaunchTemplate", {
      LaunchTemplateData: Match.objectLike({
        InstanceType: "g5.xlarge",
        MetadataOptions: { HttpTokens: "required" },
        NetworkInterfaces: [Match.objectLike({ AssociatePublicIpAddress: true })],
      }),
    });
  });

  it("tells the ECS agent the stop timeout, GPU support and Spot draining", () => {
    const userData = JSON.stringify(
      Object.values(template.findResources("AWS::EC2::LaunchTemplate"))[0].Properties.LaunchTemplateData.UserData,
    );
    expect(userData).toContain("ECS_CONTAINER_STOP_TIMEOUT=180s");
    expect(userData).toContain("ECS_ENABLE_GPU_SUPPORT=true");
    expect(userData).toContain("ECS_ENABLE_SPOT_INSTANCE_DRAINING=true");
    expect(userData).toContain("ECS_CLUSTER=");
  });

  it("scales the instances from 0, all Spot, with capacity rebalancing", () => {
    template.hasResourceProperties("AWS::AutoScaling::AutoScalingGroup", {
      MinSize: "0",
      MaxSize: "6",
      CapacityRebalance: true,
      NewInstancesProtectedFromScaleIn: true,
      MixedInstancesPolicy: {
        InstancesDistribution: Match.objectLike({
          OnDemandBaseCapacity: 0,
          OnDemandPercentageAboveBaseCapacity: 0,
          SpotAllocationStrategy: "price-capacity-optimized",
        }),
        LaunchTemplate: Match.objectLike({ Overrides: [{ InstanceType: "g5.xlarge" }] }),
      },
    });
  });

  it("puts the group behind a capacity provider with managed scaling", () => {
    template.hasResourceProperties("AWS::ECS::CapacityProvider", {
      AutoScalingGroupProvider: Match.objectLike({
        ManagedScaling: Match.objectLike({ Status: "ENABLED", TargetCapacity: 100 }),
        ManagedTerminationProtection: "ENABLED",
      }),
    });
    template.hasResourceProperties("AWS::ECS::ClusterCapacityProviderAssociations", {
      CapacityProviders: [{ Ref: Match.stringLikeRegexp("GpuCapacityProvider") }],
    });
  });

  it("gives the task definition the same stop timeout", () => {
    template.hasResourceProperties("AWS::ECS::TaskDefinition", {
      ContainerDefinitions: [Match.objectLike({ StopTimeout: 180 })],
    });
  });
});
