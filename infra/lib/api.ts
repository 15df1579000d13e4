import { Duration } from "aws-cdk-lib";
import * as lambda from "aws-cdk-lib/aws-lambda";
import * as nodejs from "aws-cdk-lib/aws-lambda-nodejs";
import * as logs from "aws-cdk-lib/aws-logs";
import { Construct } from "constructs";
import { apiStatements, grantRuntimeAccess } from "./access-policies.ts";
import {
  API_ARCHITECTURE,
  API_RUNTIME,
  DEFAULT_API_MEMORY_MIB,
  DEFAULT_API_TIMEOUT,
  defaultApiBundling,
} from "./api-defaults.ts";
import { API_ENTRY, LOCK_FILE, REPO_ROOT } from "./paths.ts";
import { sharedEnvironment, type RuntimeResources } from "./runtime-environment.ts";
import { assertValid, integerIn } from "./validate-props.ts";

export interface ApiProps extends RuntimeResources {
  /**
   * The TypeScript file exporting the Lambda `handler` (tests point this at a fixture).
   * @default functions/src/handlers/lambda.ts
   */
  readonly entry?: string;
  /**
   * Lambda memory; CPU scales with it.
   * @default 512
   */
  readonly memorySizeMiB?: number;
  /**
   * Lambda timeout. Every route validates, records, signs or enqueues; only `Prefer: wait=N` (N ≤ 60)
   * holds a submission open until its job ends, so the timeout must exceed 60 s.
   * @default Duration.seconds(75)
   */
  readonly timeout?: Duration;
  /**
   * Caps concurrent executions (a cost and abuse ceiling in front of the app's own rate limits).
   * @default - no reservation, the account's unreserved pool
   */
  readonly reservedConcurrency?: number;
  /**
   * How long the API's logs are kept.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
}

/**
 * The Hono app on Lambda behind a Lambda Function URL.
 *
 * Why a Function URL and not an HTTP API: the app already does everything API Gateway would add
 * (API-key auth, rate limits, request validation, one error shape, x-request-id), a Function URL costs
 * nothing beyond the Lambda invocations, has no 30 s integration timeout, and is one resource fewer.
 * What it lacks (custom domain, WAF, edge throttling) can be put in front later with CloudFront
 * without touching the app. Auth type NONE: every route but /healthz and /openapi.json checks the key.
 */
export class Api extends Construct {
  public readonly function: nodejs.NodejsFunction;
  public readonly functionUrl: lambda.FunctionUrl;
  public readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: ApiProps) {
    super(scope, id);
    assertValid("Api", [
      integerIn("memorySizeMiB", props.memorySizeMiB, 128, 10_240),
      integerIn("timeout (seconds)", props.timeout?.toSeconds(), 1, 900),
      integerIn("reservedConcurrency", props.reservedConcurrency, 1, 10_000),
    ]);

    this.logGroup = new logs.LogGroup(this, "Logs", {
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
    });
    this.function = new nodejs.NodejsFunction(this, "Function", {
      entry: props.entry ?? API_ENTRY,
      handler: "handler",
      projectRoot: REPO_ROOT,
      depsLockFilePath: LOCK_FILE,
      runtime: API_RUNTIME,
      architecture: API_ARCHITECTURE,
      memorySize: props.memorySizeMiB ?? DEFAULT_API_MEMORY_MIB,
      timeout: props.timeout ?? DEFAULT_API_TIMEOUT,
      reservedConcurrentExecutions: props.reservedConcurrency,
      environment: sharedEnvironment(props),
      bundling: defaultApiBundling(),
      logGroup: this.logGroup,
      tracing: lambda.Tracing.DISABLED,
    });
    grantRuntimeAccess(this.function, apiStatements(this, props), props);

    this.functionUrl = this.function.addFunctionUrl({ authType: lambda.FunctionUrlAuthType.NONE });
  }
}
