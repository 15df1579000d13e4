import { Duration } from "aws-cdk-lib";
import * as lambda from "aws-cdk-lib/aws-lambda";
import * as nodejs from "aws-cdk-lib/aws-lambda-nodejs";
import { PRODUCTION_LAMBDA_RUNTIME, PRODUCTION_NODE_MAJOR } from "./node-runtime.ts";

export const DEFAULT_API_MEMORY_MIB = 512;
// `Prefer: wait=60` holds a submission up to 60 s; the rest is headroom for the submission itself.
export const DEFAULT_API_TIMEOUT = Duration.seconds(75);

/**
 * esbuild settings for the Hono app: one ESM file for the runtime's Node with its source map. The AWS SDK v3
 * is bundled too, at the lock file's versions: the runtime's copy lags and does not promise every helper
 * the app uses (s3-request-presigner, lib-dynamodb), and minified it adds well under a second of cold start.
 */
export function defaultApiBundling(): nodejs.BundlingOptions {
  return {
    format: nodejs.OutputFormat.ESM,
    target: `node${PRODUCTION_NODE_MAJOR}`,
    mainFields: ["module", "main"],
    sourceMap: true,
    sourcesContent: false,
    minify: true,
    keepNames: true,
    bundleAwsSDK: true,
    externalModules: [],
    // CommonJS dependencies bundled into ESM still call require(); give them one.
    banner: "import { createRequire as __troupeCreateRequire } from 'node:module'; const require = __troupeCreateRequire(import.meta.url);",
  };
}

/** Graviton: the bundle is plain JavaScript, and arm64 Lambda costs ~20% less per GB-second. */
export const API_ARCHITECTURE = lambda.Architecture.ARM_64;
export const API_RUNTIME = PRODUCTION_LAMBDA_RUNTIME;
