import type { LocalStack } from "../../local/stack.ts";
import { startTestStack } from "../../test/support/test-stack.ts";
import { referencePng } from "../../test/support/seed-jobs.ts";
import { median, round } from "./stats.ts";

export interface StackBenchResult {
  runners: number;
  jobs: number;
  /** Submit → succeeded seen by a 10 ms poll, minus the runner's own inferenceMs: our orchestration. */
  endToEndMs: number;
  inferenceMs: number;
  orchestrationMs: number;
  jobsPerMinute: number;
}

type Job = { id: string; status: string; metrics: { inferenceMs: number | null } };

async function call(stack: LocalStack, path: string, body?: unknown): Promise<any> {
  const res = await fetch(`${stack.apiUrl}${path}`, {
    method: body ? "POST" : "GET",
    headers: { authorization: `Bearer ${stack.apiKey}`, "content-type": "application/json" },
    body: body ? JSON.stringify(body) : undefined,
  });
  return res.json();
}

async function untilDone(stack: LocalStack, id: string, deadline: number): Promise<Job> {
  for (;;) {
    const job = (await call(stack, `/v1/generations/${id}`)) as Job;
    if (job.status === "succeeded") return job;
    if (job.status === "failed" || job.status === "canceled" || Date.now() > deadline) throw new Error(`bench job ${id} ended ${job.status}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/**
 * The local stack with N runners: first sequential jobs (latency and orchestration overhead),
 * then a burst of jobs submitted at once (throughput). Tiny bundle, 10 steps, 128×128.
 */
export async function benchStack(runners: number, options: { sequential: number; burst: number }): Promise<StackBenchResult> {
  // Progress at the production rate: its writes are part of the orchestration we measure.
  const stack = await startTestStack("bench", { TROUPE_PROGRESS_INTERVAL_MS: "1000" }, runners);
  const deadline = Date.now() + 300_000;
  try {
    const uploads: string[] = [];
    for (const color of ["#36c", "#c33"]) {
      const png = await referencePng(color);
      const u = await call(stack, "/v1/uploads", { contentType: "image/png", contentLength: png.length });
      await fetch(u.uploadUrl, { method: "PUT", headers: u.headers, body: png });
      uploads.push(u.id);
    }
    const body = { prompt: "a man img and a woman img sitting in a park", subjects: uploads.map((uploadId) => ({ uploadId })), steps: 10, seed: 1 };
    await untilDone(stack, (await call(stack, "/v1/generations", body)).id, deadline); // warm-up: sessions, caches

    const e2e: number[] = [];
    const inference: number[] = [];
    for (let i = 0; i < options.sequential; i++) {
      const t0 = performance.now();
      const job = await untilDone(stack, (await call(stack, "/v1/generations", body)).id, deadline);
      e2e.push(performance.now() - t0);
      inference.push(job.metrics.inferenceMs ?? 0);
    }

    const t0 = performance.now();
    const ids: string[] = [];
    for (let i = 0; i < options.burst; i++) ids.push((await call(stack, "/v1/generations", body)).id);
    // One list call per 100 ms, not a poll per job: the pollers must not starve the runners of CPU.
    const pending = new Set(ids);
    while (pending.size > 0) {
      if (Date.now() > deadline) throw new Error("bench burst did not finish");
      const page = (await call(stack, "/v1/generations?limit=100")) as { data: Job[] };
      for (const job of page.data) if (job.status === "succeeded") pending.delete(job.id);
      if (pending.size > 0) await new Promise((r) => setTimeout(r, 100));
    }
    const minutes = (performance.now() - t0) / 60_000;

    return {
      runners,
      jobs: options.sequential + options.burst,
      endToEndMs: round(median(e2e), 0),
      inferenceMs: round(median(inference), 0),
      orchestrationMs: round(median(e2e.map((e, i) => e - inference[i])), 0),
      jobsPerMinute: round(options.burst / minutes, 1),
    };
  } finally {
    await stack.stop();
  }
}
