export { createApp, MAX_BODY_BYTES } from "./app.ts";
export { createDeps, createStores, type AppDeps, type Stores } from "./deps.ts";
export { startServer, type StartedServer } from "./handlers/node.ts";
export { checkWebhookUrl, dnsResolver, type HostResolver } from "@troupe/shared/webhooks/webhook-url";
