import * as lambda from "aws-cdk-lib/aws-lambda";

/**
 * The Node.js major that production runs: the API's Lambda runtime and the runner image's `node` (passed to
 * gpu-runner/Dockerfile as NODE_MAJOR). 24 is the newest runtime aws-cdk-lib offers and the current LTS;
 * nodejs20.x was deprecated on 2026-04-30 and can no longer create functions (cfn-lint E2533).
 * infra/test/lambda-runtimes.test.ts holds every Lambda and the Dockerfile's default to it.
 */
export const PRODUCTION_NODE_MAJOR = 24;
export const PRODUCTION_LAMBDA_RUNTIME = lambda.Runtime.NODEJS_24_X;
