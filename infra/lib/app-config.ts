import { resolve } from "node:path";
import { Duration, type Environment } from "aws-cdk-lib";
import type { TroupeStackProps } from "./troupe-stack.ts";
import { PropsValidationError } from "./validate-props.ts";

/** Reads one setting: CDK context (`-c name=value`) first, then an environment variable. */
export type SettingReader = (contextKey: string, envName: string) => string | undefined;

/** The deploy-time settings an operator gives, as stack props. Unset settings keep the constructs' defaults. */
export interface AppConfig {
  readonly stackName: string;
  readonly env?: Environment;
  readonly props: TroupeStackProps;
}

/**
 * Settings (context key / environment variable):
 * stackName/TROUPE_STACK_NAME, bundle/TROUPE_BUNDLE, alarmEmail/TROUPE_ALARM_EMAIL,
 * instanceType/TROUPE_INSTANCE_TYPE, spot/TROUPE_SPOT, maxTasks/TROUPE_MAX_TASKS,
 * targetBacklogPerTask/TROUPE_TARGET_BACKLOG, stopTimeoutSeconds/TROUPE_STOP_TIMEOUT_S,
 * shutdownGraceSeconds/TROUPE_SHUTDOWN_GRACE_S, availabilityZones/TROUPE_AZS (comma-separated),
 * apiEntry/TROUPE_API_ENTRY (another Lambda entry file, relative to the cwd).
 * Account and region come from CDK_DEFAULT_ACCOUNT/CDK_DEFAULT_REGION (the CDK CLI sets them);
 * without them the stack is environment-agnostic, which is what offline `npm run synth` produces.
 */
export function readAppConfig(read: SettingReader, env: NodeJS.ProcessEnv): AppConfig {
  const problems: string[] = [];
  const number = (key: string, name: string): number | undefined => {
    const raw = read(key, name);
    if (raw === undefined || raw === "") return undefined;
    const value = Number(raw);
    if (!Number.isFinite(value)) problems.push(`${key} (${name}) must be a number, got "${raw}"`);
    return value;
  };
  const flag = (key: string, name: string): boolean | undefined => {
    const raw = read(key, name);
    if (raw === undefined || raw === "") return undefined;
    if (raw !== "true" && raw !== "false") problems.push(`${key} (${name}) must be true or false, got "${raw}"`);
    return raw === "true";
  };
  const stopTimeoutSeconds = number("stopTimeoutSeconds", "TROUPE_STOP_TIMEOUT_S");
  const azs = read("availabilityZones", "TROUPE_AZS");
  const apiEntry = read("apiEntry", "TROUPE_API_ENTRY");

  const props: TroupeStackProps = {
    apiEntry: apiEntry ? resolve(apiEntry) : undefined,
    bundleUri: read("bundle", "TROUPE_BUNDLE") || undefined,
    alarmEmail: read("alarmEmail", "TROUPE_ALARM_EMAIL") || undefined,
    instanceType: read("instanceType", "TROUPE_INSTANCE_TYPE") || undefined,
    spot: flag("spot", "TROUPE_SPOT"),
    maxTasks: number("maxTasks", "TROUPE_MAX_TASKS"),
    targetBacklogPerTask: number("targetBacklogPerTask", "TROUPE_TARGET_BACKLOG"),
    stopTimeout: stopTimeoutSeconds === undefined ? undefined : Duration.seconds(stopTimeoutSeconds),
    shutdownGraceSeconds: number("shutdownGraceSeconds", "TROUPE_SHUTDOWN_GRACE_S"),
    availabilityZones: azs ? azs.split(",").map((az) => az.trim()).filter(Boolean) : undefined,
  };
  if (problems.length > 0) throw new PropsValidationError("app config", problems);

  const account = env.CDK_DEFAULT_ACCOUNT;
  const region = env.CDK_DEFAULT_REGION;
  return {
    stackName: read("stackName", "TROUPE_STACK_NAME") || "Troupe",
    env: account && region ? { account, region } : undefined,
    props,
  };
}
