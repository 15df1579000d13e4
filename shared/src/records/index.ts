export * from "./api-keys.ts";
export * from "./conditional.ts";
export * from "./deliveries.ts";
export * from "./idempotency.ts";
export * from "./jobs.ts";
export * from "./tables.ts";
export * from "./uploads.ts";
export * from "./usage.ts";
