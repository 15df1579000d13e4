import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { App } from "aws-cdk-lib";
import { readAppConfig } from "../lib/app-config.ts";
import { TroupeStack } from "../lib/troupe-stack.ts";

/** Builds the Troupe app into `app`: one stack. bin/synth.ts and the CDK CLI (cdk.json) both use it. */
export function buildApp(app: App, env: NodeJS.ProcessEnv = process.env): TroupeStack {
  const config = readAppConfig((key, name) => {
    const context: unknown = app.node.tryGetContext(key);
    return context === undefined ? env[name] : String(context);
  }, env);
  return new TroupeStack(app, config.stackName, {
    ...config.props,
    env: config.env,
    description: "Troupe: multi-subject image generation API (FastComposer on SD 1.5) with GPU runners",
  });
}

// Run directly (by the CDK CLI through cdk.json): the CLI sets CDK_OUTDIR and the app synthesizes on exit.
if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  buildApp(new App());
}
