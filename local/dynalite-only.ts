import type { AddressInfo } from "node:net";
import { mkdirSync } from "node:fs";
import dynalite from "dynalite";

export interface DynaliteServer {
  endpoint: string;
  stop(): Promise<void>;
}

/**
 * Only DynamoDB, persisted under `dataDir`: for tools (the keys CLI) that need the local stack's
 * tables while the stack itself is not running. Loopback only.
 */
export async function startDynaliteOnly(options: { dataDir: string; port?: number }): Promise<DynaliteServer> {
  mkdirSync(options.dataDir, { recursive: true });
  const server = dynalite({ path: options.dataDir, createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, "127.0.0.1", () => resolve());
  });
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
