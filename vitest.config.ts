import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["{shared,functions,gpu-runner,infra}/**/*.test.ts", "test/**/*.test.ts"],
    exclude: ["**/node_modules/**"],
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
