import { handle } from "hono/aws-lambda";
import { ApiConfigSchema, loadConfig } from "@troupe/shared/config";
import { createApp } from "../app.ts";
import { createDeps } from "../deps.ts";

/**
 * Built once per cold start: config is read and checked, the bundle's manifest and tokenizer are
 * loaded, clients are created; warm invocations reuse them. A bad config fails the cold start
 * with a message naming the variable.
 */
const app = createApp(await createDeps(loadConfig(ApiConfigSchema)));

export const handler = handle(app);
