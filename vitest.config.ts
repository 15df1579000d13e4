import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

export default defineConfig({
  // In-repo tests read the client's sources (as tsconfig's paths do); test/client/package.test.ts checks the built package.
  resolve: {
    alias: [
      { find: /^@troupe\/client$/, replacement: fileURLToPath(new URL("./client/src/index.ts", import.meta.url)) },
      { find: /^@troupe\/client\/node$/, replacement: fileURLToPath(new URL("./client/src/node.ts", import.meta.url)) },
    ],
  },
  test: {
    include: ["{shared,client,functions,gpu-runner,infra}/**/*.test.ts", "test/**/*.test.ts"],
    exclude: ["**/node_modules/**"],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // The AWS SDK's documented switch for its "upgrade Node" notice, which every worker and spawned
    // runner would print once on Node 20; production runs Node 24 and never sees it.
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true" },
  },
});
