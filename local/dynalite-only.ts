import type { AddressInfo } from "node:net";
import { mkdirSync } from "node:fs";
import dynalite from "dynalite";

export interface DynaliteServer {
  endpoint: string;
  stop(): Promise<void>;
}

/**
 * dynalite on loopback, persisted under `dataDir` (in memory without it). The local stack starts it
 * with the other emulators; tools (the keys CLI) start it alone when the stack is not running.
 */
export async function startDynalite(options: { dataDir?: string; port?: number }): Promise<DynaliteServer> {
  if (options.dataDir) mkdirSync(options.dataDir, { recursive: true });
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
