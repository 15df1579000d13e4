import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { PRODUCTION_LAMBDA_RUNTIME, PRODUCTION_NODE_MAJOR } from "../lib/node-runtime.ts";
import { REPO_ROOT, RUNNER_DOCKERFILE } from "../lib/paths.ts";
import { synthTroupe } from "./fixtures/stacks.ts";

/**
 * Runtimes AWS lets a stack create today. nodejs20.x is not one: deprecated 2026-04-30, creation blocked
 * 2026-06-01 (cfn-lint's LmbdRuntimeLifecycle data, E2533). nodejs22.x is allowed until 2027-06-01.
 * .ci/run also lints the synthesised template with cfn-lint where it is installed.
 */
const CREATABLE_RUNTIMES = ["nodejs22.x", "nodejs24.x"];

describe("Lambda runtimes", () => {
  const { template } = synthTroupe();
  const functions = Object.entries(template.findResources("AWS::Lambda::Function"));

  it("every function in the stack, custom-resource handlers included, is on a creatable runtime", () => {
    expect(functions.length).toBeGreaterThan(0);
    for (const [id, resource] of functions) {
      expect({ id, runtime: resource.Properties.Runtime }).toEqual({ id, runtime: expect.toBeOneOf(CREATABLE_RUNTIMES) });
    }
  });

  it("the API runs the production Node major", () => {
    expect(PRODUCTION_LAMBDA_RUNTIME.name).toBe(`nodejs${PRODUCTION_NODE_MAJOR}.x`);
    expect(functions.map(([, r]) => r.Properties.Runtime)).toContain(PRODUCTION_LAMBDA_RUNTIME.name);
  });

  it("the runner image defaults to the same Node major", () => {
    const dockerfile = readFileSync(join(REPO_ROOT, RUNNER_DOCKERFILE), "utf8");
    expect(dockerfile).toMatch(new RegExp(`^ARG NODE_MAJOR=${PRODUCTION_NODE_MAJOR}$`, "m"));
  });
});
