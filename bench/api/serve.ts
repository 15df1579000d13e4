/**
 * One side of bench/api/compare.ts: this checkout's API on its own emulators (bench/api/emulators.ts),
 * with a bench key, one uploaded reference image and one job to poll. Prints `{url, headers, body,
 * jobId}` as one JSON line, answers each stdin line with this process's CPU ms, stops when stdin closes.
 */
import { createInterface } from "node:readline";
import { ONE_SUBJECT, startBenchApi, uploadPng } from "./bench-api.ts";

const api = await startBenchApi();
const body = ONE_SUBJECT(await uploadPng(api.url, api.headers));
const job = (await (await fetch(`${api.url}/v1/generations`, { method: "POST", headers: api.headers, body })).json()) as { id: string };

process.stdout.write(`${JSON.stringify({ url: api.url, headers: api.headers, body, jobId: job.id })}\n`);
const lines = createInterface({ input: process.stdin });
lines.on("line", () => {
  const u = process.cpuUsage();
  process.stdout.write(`${JSON.stringify({ cpuMs: (u.user + u.system) / 1000 })}\n`);
});
lines.on("close", async () => {
  await api.stop();
  process.exit(0);
});
