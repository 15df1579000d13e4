import { statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { App } from "aws-cdk-lib";
import { buildApp } from "./app.ts";

/**
 * Offline synthesis into infra/cdk.out: no credentials, no network, no Docker. The stack is
 * environment-agnostic unless CDK_DEFAULT_ACCOUNT/REGION are set, and no construct does a lookup, so
 * nothing needs AWS; the runner image is only staged (hashed and copied), built later by `cdk deploy`.
 */
const outdir = fileURLToPath(new URL("../cdk.out", import.meta.url));
const started = Date.now();
const app = new App({ outdir });
buildApp(app);
const assembly = app.synth();

for (const stack of assembly.stacks) {
  const bytes = statSync(join(assembly.directory, stack.templateFile)).size;
  console.log(`${stack.stackName}: ${stack.templateFile} ${(bytes / 1024).toFixed(1)} KiB`);
}
console.log(`synthesized into ${assembly.directory} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
