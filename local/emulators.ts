import { mkdirSync } from "node:fs";
import { join } from "node:path";
import S3rver from "s3rver";
import { startDynalite } from "./dynalite-only.ts";
import { buildApp } from "fauxqs";

export interface EmulatorOptions {
  /** Where s3rver and dynalite persist; omit for in-memory (tests). */
  dataDir?: string;
  /** Fixed ports (the local stack), or 0 for any free port (tests). */
  ports?: { s3?: number; sqs?: number; dynamodb?: number };
}

export interface Emulators {
  endpoints: { s3: string; sqs: string; dynamodb: string };
  stop(): Promise<void>;
}

const HOST = "127.0.0.1";

/** Starts s3rver, fauxqs and dynalite in this process, bound to loopback only. */
export async function startEmulators(options: EmulatorOptions = {}): Promise<Emulators> {
  const ports = options.ports ?? {};
  const s3Dir = options.dataDir ? join(options.dataDir, "s3") : undefined;
  const ddbDir = options.dataDir ? join(options.dataDir, "dynamodb") : undefined;
  for (const dir of [s3Dir, ddbDir]) if (dir) mkdirSync(dir, { recursive: true });

  const s3 = new S3rver({ address: HOST, port: ports.s3 ?? 0, silent: true, directory: s3Dir ?? join(tmpS3Dir()), resetOnClose: !s3Dir });
  const s3Address = await s3.run();

  // buildApp + listen, not startFauxqs: startFauxqs listens on 0.0.0.0 whatever its `host` says.
  const sqs = buildApp({ logger: false });
  const sqsUrl = new URL(await sqs.listen({ port: ports.sqs ?? 0, host: HOST }));

  const ddb = await startDynalite({ dataDir: ddbDir, port: ports.dynamodb });

  return {
    endpoints: {
      s3: `http://${HOST}:${s3Address.port}`,
      sqs: `http://${HOST}:${sqsUrl.port}`,
      dynamodb: ddb.endpoint,
    },
    async stop() {
      await Promise.allSettled([s3.close(), sqs.close(), ddb.stop()]);
    },
  };
}

function tmpS3Dir(): string {
  const dir = join(process.env.TMPDIR ?? "/tmp", `troupe-s3-${process.pid}-${Math.random().toString(36).slice(2)}`);
  mkdirSync(dir, { recursive: true });
  return dir;
}
