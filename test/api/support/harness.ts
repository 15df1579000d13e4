import { rmSync } from "node:fs";
import { ListObjectsV2Command } from "@aws-sdk/client-s3";
import { DeleteMessageCommand, ReceiveMessageCommand } from "@aws-sdk/client-sqs";
import { loadModelInfo } from "@troupe/shared/bundle/model-info";
import { ApiConfigSchema, loadConfig } from "@troupe/shared/config";
import { QueueMessageSchema, type QueueMessage } from "@troupe/shared/contracts/queue-message";
import { createApp } from "../../../functions/src/app.ts";
import { createDeps, type AppDeps } from "../../../functions/src/deps.ts";
import type { HostResolver } from "@troupe/shared/webhooks/webhook-url";
import { startTestEnv, type TestEnv } from "../../../local/test-env.ts";
import { writeFixtureBundle } from "./fixture-bundle.ts";

/** A tiny but real PNG header (the API checks magic bytes, the runner decodes). */
export const PNG_BYTES = Buffer.from(
  "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d4944415478da63f8cfc0f01f0005000201a1e1d1d60000000049454e44ae426082",
  "hex",
);
export const JPEG_BYTES = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00, 0x01, 0xff, 0xd9]);

export const fakeDns: HostResolver = async (host) => {
  const table: Record<string, string[]> = { "hooks.example.com": ["93.184.216.34"], "rebind.example.com": ["10.0.0.5"] };
  if (!table[host]) throw new Error(`ENOTFOUND ${host}`);
  return table[host];
};

// Test bodies are read field by field; `any` keeps the assertions short.
export interface ApiResponse<T = any> {
  status: number;
  headers: Headers;
  body: T;
}

export interface RequestOptions {
  key?: string;
  body?: unknown;
  headers?: Record<string, string>;
}

/** One emulator env, the fixture bundle and an app over them; helpers that read the emulators directly. */
export interface Harness {
  t: TestEnv;
  deps: AppDeps;
  app: ReturnType<typeof createApp>;
  logs: string[];
  /** Freezes the API's clock (rate-limit windows) or, with undefined, lets it run again. */
  setNow(ms: number | undefined): void;
  newKey(options?: { monthlyImages?: number; ratePerMinute?: number }): Promise<{ key: string; keyId: string }>;
  call<T = any>(method: string, path: string, options?: RequestOptions): Promise<ApiResponse<T>>;
  /** POST /v1/uploads, then the presigned PUT with fetch. Returns the upload id. */
  upload(key: string, bytes?: Uint8Array, contentType?: string): Promise<string>;
  /** Receives and deletes every message now in the jobs queue. */
  drainQueue(): Promise<QueueMessage[]>;
  countObjects(prefix: string): Promise<number>;
  countJobs(tenantId: string): Promise<number>;
  stop(): Promise<void>;
}

export async function startHarness(): Promise<Harness> {
  const t = await startTestEnv();
  const bundle = writeFixtureBundle();
  const config = loadConfig(ApiConfigSchema, { ...t.env, TROUPE_BUNDLE: bundle });
  const logs: string[] = [];
  let frozen: number | undefined;
  const deps = await createDeps(config, {
    clients: t.clients,
    model: await loadModelInfo(bundle),
    resolveHost: fakeDns,
    now: () => frozen ?? Date.now(),
    log: (line) => logs.push(line),
  });
  const app = createApp(deps);

  const call = async <T>(method: string, path: string, options: RequestOptions = {}): Promise<ApiResponse<T>> => {
    const headers: Record<string, string> = { ...options.headers };
    if (options.key) headers.authorization = `Bearer ${options.key}`;
    if (options.body !== undefined) headers["content-type"] ??= "application/json";
    const body = options.body === undefined ? undefined : typeof options.body === "string" ? options.body : JSON.stringify(options.body);
    const res = await app.request(path, { method, headers, body });
    const text = await res.text();
    return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : null };
  };

  return {
    t,
    deps,
    app,
    logs,
    setNow: (ms) => void (frozen = ms),
    async newKey(options = {}) {
      const { key, record } = await deps.stores.keys.create({ name: "test", monthlyImages: options.monthlyImages ?? 100, ratePerMinute: options.ratePerMinute ?? 10_000 });
      return { key, keyId: record.keyId };
    },
    call,
    async upload(key, bytes = PNG_BYTES, contentType = "image/png") {
      const created = await call<{ id: string; uploadUrl: string; headers: Record<string, string> }>("POST", "/v1/uploads", { key, body: { contentType, contentLength: bytes.byteLength } });
      if (created.status !== 201) throw new Error(`upload slot: ${created.status} ${JSON.stringify(created.body)}`);
      const put = await fetch(created.body.uploadUrl, { method: "PUT", headers: created.body.headers, body: bytes });
      if (!put.ok) throw new Error(`presigned PUT: ${put.status}`);
      return created.body.id;
    },
    async drainQueue() {
      const out: QueueMessage[] = [];
      for (;;) {
        const got = await t.clients.sqs.send(new ReceiveMessageCommand({ QueueUrl: deps.queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }));
        const messages = got.Messages ?? [];
        if (messages.length === 0) return out;
        for (const m of messages) {
          out.push(QueueMessageSchema.parse(JSON.parse(m.Body!)));
          await t.clients.sqs.send(new DeleteMessageCommand({ QueueUrl: deps.queueUrl, ReceiptHandle: m.ReceiptHandle! }));
        }
      }
    },
    async countObjects(prefix) {
      const out = await t.clients.s3.send(new ListObjectsV2Command({ Bucket: config.TROUPE_BUCKET, Prefix: prefix }));
      return out.KeyCount ?? 0;
    },
    async countJobs(tenantId) {
      return (await deps.stores.jobs.list(tenantId, 100)).items.length;
    },
    async stop() {
      await t.stop();
      rmSync(bundle, { recursive: true, force: true });
    },
  };
}
