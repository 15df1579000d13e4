import { describe, expect, it } from "vitest";
import { readAppConfig, type SettingReader } from "../lib/app-config.ts";
import { parseBundleUri } from "../lib/bundle-location.ts";
import { PropsValidationError } from "../lib/validate-props.ts";

const fromEnv =
  (vars: Record<string, string>): SettingReader =>
  (_key, name) =>
    vars[name];

describe("readAppConfig", () => {
  it("leaves every setting to the constructs' defaults when nothing is given", () => {
    const config = readAppConfig(fromEnv({}), {});
    expect(config.stackName).toBe("Troupe");
    expect(config.env).toBeUndefined();
    expect(Object.values(config.props).filter((v) => v !== undefined)).toEqual([]);
  });

  it("reads settings and a concrete environment from the CDK CLI's variables", () => {
    const config = readAppConfig(
      fromEnv({ TROUPE_BUNDLE: "s3://m/sd15", TROUPE_SPOT: "true", TROUPE_MAX_TASKS: "8", TROUPE_STOP_TIMEOUT_S: "150", TROUPE_AZS: "us-east-1a, us-east-1b" }),
      { CDK_DEFAULT_ACCOUNT: "123456789012", CDK_DEFAULT_REGION: "us-east-1" },
    );
    expect(config.env).toEqual({ account: "123456789012", region: "us-east-1" });
    expect(config.props).toMatchObject({ bundleUri: "s3://m/sd15", spot: true, maxTasks: 8, availabilityZones: ["us-east-1a", "us-east-1b"] });
    expect(config.props.stopTimeout?.toSeconds()).toBe(150);
  });

  it("names every malformed setting at once", () => {
    const read = fromEnv({ TROUPE_SPOT: "yes", TROUPE_MAX_TASKS: "many" });
    expect(() => readAppConfig(read, {})).toThrow(PropsValidationError);
    expect(() => readAppConfig(read, {})).toThrow(/spot \(TROUPE_SPOT\)[\s\S]*maxTasks \(TROUPE_MAX_TASKS\)/);
  });
});

describe("parseBundleUri", () => {
  it.each([
    ["s3://troupe-models/sd15/v1", "troupe-models", "sd15/v1/"],
    ["s3://troupe-models/sd15/v1/", "troupe-models", "sd15/v1/"],
    ["s3://troupe-models", "troupe-models", ""],
  ])("parses %s", (uri, bucketName, prefix) => {
    expect(parseBundleUri(uri)).toEqual({ uri: `s3://${bucketName}/${prefix}`, bucketName, prefix });
  });

  it.each(["https://x.s3.amazonaws.com/m", "s3://Bad_Bucket/m", "s3://bucket/models/*", "/models/tiny"])(
    "rejects %s with a sentence",
    (uri) => {
      expect(parseBundleUri(uri)).toEqual(expect.stringContaining("bundleUri"));
    },
  );
});
