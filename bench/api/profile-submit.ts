/**
 * A small driver of the API's hot path for profiling, not part of `npm run bench:api`:
 *   node --cpu-prof --cpu-prof-dir=/tmp/prof --import tsx bench/api/profile-submit.ts [--n 300] [--subjects 2]
 * Emulators run in child processes (bench/api/emulators.ts); this process runs the API and one client
 * sending submissions one at a time (or `--concurrency` at once), then polls, then a bare route, and prints CPU ms per request of each.
 * `--concurrency 8` runs that many clients at once (the bench's loaded phase).
 * `--http node` puts the SDK's node:http handler under the clients instead of undici (A/B).
 */
import { parseArgs } from "node:util";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { startBenchApi, uploadPng } from "./bench-api.ts";
import type { EmulatorLayout } from "./emulators.ts";

const { values } = parseArgs({ options: { n: { type: "string", default: "300" }, subjects: { type: "string", default: "1" }, layout: { type: "string", default: "separate" }, ddb: { type: "string", default: "" }, only: { type: "string", default: "" }, concurrency: { type: "string", default: "1" }, http: { type: "string", default: "undici" } } });
const n = Number(values.n);

const api = await startBenchApi({
  layout: values.layout as EmulatorLayout,
  http: values.http as "undici" | "node",
  prepareClients: (clients, config) => {
    if (values.ddb !== "doc") return;
    // A/B: the plain document client (every call rebuilds its middleware stack), as before LeanDocumentClient.
    const plain = new DynamoDBClient({ region: config.AWS_REGION, endpoint: config.TROUPE_DYNAMODB_ENDPOINT, credentials: { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" }, requestHandler: clients.ddb.config.requestHandler });
    plain.middlewareStack.remove("loggerMiddleware");
    clients.ddb = DynamoDBDocumentClient.from(plain, { marshallOptions: { removeUndefinedValues: true } });
  },
});
const { url, headers } = api;
try {
  const uploads: string[] = [];
  for (let i = 0; i < Number(values.subjects); i++) uploads.push(await uploadPng(url, headers));
  const prompt = `a photo of ${uploads.map(() => "a person img").join(" and ")} in a park`;
  const body = JSON.stringify({ prompt, subjects: uploads.map((uploadId) => ({ uploadId })), steps: 30 });
  let jobId = "";
  const kinds = {
    submit: async () => {
      const res = await fetch(`${url}/v1/generations`, { method: "POST", headers, body });
      jobId = ((await res.json()) as { id: string }).id;
      if (res.status !== 202) throw new Error(`submit: ${res.status}`);
    },
    poll: async () => void (await (await fetch(`${url}/v1/generations/${jobId}`, { headers })).arrayBuffer()),
    bare: async () => void (await (await fetch(`${url}/bench/bare`, { headers })).arrayBuffer()),
  };
  const results: Record<string, number> = {};
  for (const [name, send] of Object.entries(kinds)) {
    if (values.only && name !== values.only) continue;
    for (let i = 0; i < 300; i++) await send();
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    let issued = 0;
    const client = async () => {
      while (issued++ < n) await send();
    };
    await Promise.all(Array.from({ length: Number(values.concurrency) }, client));
    const u = process.cpuUsage(cpu0);
    results[name] = (u.user + u.system) / 1000 / n;
    console.log(`${name}: ${results[name].toFixed(3)} ms CPU, ${((performance.now() - t0) / n).toFixed(2)} ms wall per request`);
  }
  if (!values.only) console.log(`our CPU (− bare): submit ${(results.submit - results.bare).toFixed(3)} ms, poll ${(results.poll - results.bare).toFixed(3)} ms`);
} finally {
  await api.stop();
}
