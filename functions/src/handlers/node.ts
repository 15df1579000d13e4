import { serve, type ServerType } from "@hono/node-server";
import type { AddressInfo } from "node:net";
import { ApiConfigSchema, loadConfig } from "@troupe/shared/config";
import { createApp } from "../app.ts";
import { createDeps } from "../deps.ts";

export interface StartedServer {
  server: ServerType;
  url: string;
  close(): Promise<void>;
}

/** Serves an app on `hostname:port` (port 0 = any free port) and resolves once it listens. */
export function startServer(app: { fetch: (request: Request) => Response | Promise<Response> }, options: { port: number; hostname?: string }): Promise<StartedServer> {
  return new Promise((resolve, reject) => {
    const server = serve({ fetch: app.fetch, port: options.port, hostname: options.hostname ?? "127.0.0.1" }, (info: AddressInfo) => {
      resolve({
        server,
        url: `http://${info.family === "IPv6" ? `[${info.address}]` : info.address}:${info.port}`,
        close: () => new Promise<void>((done) => server.close(() => done())),
      });
    });
    // e.g. EADDRINUSE: reject, so callers report it and clean up instead of crashing on an 'error' event.
    server.once("error", reject);
  });
}

/** `tsx functions/src/handlers/node.ts`: the API on PORT for local use. */
async function main(): Promise<void> {
  const config = loadConfig(ApiConfigSchema);
  const { url } = await startServer(createApp(await createDeps(config)), { port: config.PORT, hostname: config.HOST });
  process.stdout.write(`${JSON.stringify({ level: "info", msg: "troupe api listening", url })}\n`);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((e: unknown) => {
    process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  });
}
