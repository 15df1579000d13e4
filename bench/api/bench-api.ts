/**
 * The API as the API benches run it: emulators in child processes (emulators.ts), a fixture bundle,
 * the production clients, deps and app with a bare route beside it (`GET /bench/bare`, the baseline
 * every route's cost is measured against), served on a free port, and a key no quota or rate limit
 * stops. Used by bench/api.ts, profile-submit.ts and serve.ts.
 */
import { rmSync } from "node:fs";
import { createAwsClients, destroyAwsClients, type AwsClients } from "@troupe/shared/aws/clients";
import { loadModelInfo, type ModelInfo } from "@troupe/shared/bundle/model-info";
import { ApiConfigSchema, loadConfig, type ApiConfig } from "@troupe/shared/config";
import { UploadSchema } from "@troupe/shared/contracts/upload";
import { createApp } from "../../functions/src/app.ts";
import { createDeps } from "../../functions/src/deps.ts";
import type { AppDeps } from "../../functions/src/deps.ts";
import { startServer } from "../../functions/src/handlers/node.ts";
import { writeFixtureBundle } from "../../test/api/support/fixture-bundle.ts";
import { startBenchEmulators, type BenchEmulators, type EmulatorLayout } from "./emulators.ts";

/** The smallest PNG the upload check accepts (its magic bytes and a header). */
export const BENCH_PNG = Buffer.from("89504e470d0a1a0a0000000d4948445200000001000000010806000000", "hex");

export interface BenchApi {
  emulators: BenchEmulators;
  config: ApiConfig;
  model: ModelInfo;
  clients: AwsClients;
  deps: AppDeps;
  url: string;
  /** Authorization and content type for the bench key. */
  headers: Record<string, string>;
  stop(): Promise<void>;
}

export interface BenchApiOptions {
  layout?: EmulatorLayout;
  /** The HTTP client under the SDK (A/B, see shared/src/aws/clients.ts). */
  http?: "undici" | "node";
  /** Changes the clients before the app is built (A/B of a client variant). */
  prepareClients?: (clients: AwsClients, config: ApiConfig) => void;
}

export async function startBenchApi(options: BenchApiOptions = {}): Promise<BenchApi> {
  const emulators = await startBenchEmulators(options.layout ?? "separate");
  const bundle = writeFixtureBundle();
  const config = loadConfig(ApiConfigSchema, { ...emulators.env, TROUPE_BUNDLE: bundle });
  const model = await loadModelInfo(bundle);
  const clients = createAwsClients(config, { http: options.http ?? "undici" });
  options.prepareClients?.(clients, config);
  const deps = await createDeps(config, { clients, model, log: () => {} });
  const app = createApp(deps);
  app.get("/bench/bare", (c) => c.json({ ok: true }));
  const server = await startServer(app, { port: 0 });
  const { key } = await deps.stores.keys.create({ name: "bench", monthlyImages: 10_000_000, ratePerMinute: 100_000 });
  return {
    emulators,
    config,
    model,
    clients,
    deps,
    url: server.url,
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    stop: async () => {
      await server.close();
      destroyAwsClients(clients);
      await emulators.stop();
      rmSync(bundle, { recursive: true, force: true });
    },
  };
}

/** The bench's submissions: one subject (the main phases) and two. */
export const ONE_SUBJECT = (uploadId: string) => JSON.stringify({ prompt: "a photo of a man img walking a dog in a park at sunset", subjects: [{ uploadId }], steps: 30 });
export const TWO_SUBJECTS = (a: string, b: string) => JSON.stringify({ prompt: "a man img and a woman img sitting in a park", subjects: [{ uploadId: a }, { uploadId: b }], steps: 30 });

/** Creates an upload of the bench PNG through the API (`POST /v1/uploads`, then the presigned PUT). */
export async function uploadPng(url: string, headers: Record<string, string>): Promise<string> {
  const res = await fetch(`${url}/v1/uploads`, { method: "POST", headers, body: JSON.stringify({ contentType: "image/png", contentLength: BENCH_PNG.length }) });
  const slot = UploadSchema.parse(await res.json());
  await fetch(slot.uploadUrl, { method: "PUT", headers: slot.headers, body: BENCH_PNG });
  return slot.id;
}
