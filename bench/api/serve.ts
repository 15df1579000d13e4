/**
 * One side of bench/api/compare.ts: this checkout's API on its own emulators (bench/api/emulators.ts),
 * with a bench key, one uploaded reference image and one job to poll. Prints `{url, headers, body,
 * jobId}` as one JSON line, answers each stdin line with this process's CPU ms, stops when stdin closes.
 */
import { rmSync } from "node:fs";
import { createInterface } from "node:readline";
import { createAwsClients, destroyAwsClients } from "@troupe/shared/aws/clients";
import { loadModelInfo } from "@troupe/shared/bundle/model-info";
import { ApiConfigSchema, loadConfig } from "@troupe/shared/config";
import { UploadSchema } from "@troupe/shared/contracts/upload";
import { createApp } from "../../functions/src/app.ts";
import { createDeps } from "../../functions/src/deps.ts";
import { startServer } from "../../functions/src/handlers/node.ts";
import { writeFixtureBundle } from "../../test/api/support/fixture-bundle.ts";
import { startBenchEmulators } from "./emulators.ts";

const PNG = Buffer.from("89504e470d0a1a0a0000000d4948445200000001000000010806000000", "hex");

const emulators = await startBenchEmulators("separate");
const bundle = writeFixtureBundle();
const config = loadConfig(ApiConfigSchema, { ...emulators.env, TROUPE_BUNDLE: bundle });
const clients = createAwsClients(config);
const deps = await createDeps(config, { clients, model: await loadModelInfo(bundle), log: () => {} });
const app = createApp(deps);
app.get("/bench/bare", (c) => c.json({ ok: true }));
const server = await startServer(app, { port: 0 });

const { key } = await deps.stores.keys.create({ name: "bench", monthlyImages: 10_000_000, ratePerMinute: 100_000 });
const headers = { authorization: `Bearer ${key}`, "content-type": "application/json" };
const slot = UploadSchema.parse(await (await fetch(`${server.url}/v1/uploads`, { method: "POST", headers, body: JSON.stringify({ contentType: "image/png", contentLength: PNG.length }) })).json());
await fetch(slot.uploadUrl, { method: "PUT", headers: slot.headers, body: PNG });
const body = JSON.stringify({ prompt: "a photo of a man img walking a dog in a park at sunset", subjects: [{ uploadId: slot.id }], steps: 30 });
const job = (await (await fetch(`${server.url}/v1/generations`, { method: "POST", headers, body })).json()) as { id: string };

process.stdout.write(`${JSON.stringify({ url: server.url, headers, body, jobId: job.id })}\n`);
const lines = createInterface({ input: process.stdin });
lines.on("line", () => {
  const u = process.cpuUsage();
  process.stdout.write(`${JSON.stringify({ cpuMs: (u.user + u.system) / 1000 })}\n`);
});
lines.on("close", async () => {
  await server.close();
  destroyAwsClients(clients);
  await emulators.stop();
  rmSync(bundle, { recursive: true, force: true });
  process.exit(0);
});
