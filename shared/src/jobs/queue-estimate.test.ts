import { describe, expect, it } from "vitest";
import type { JobRecord } from "../records/jobs.ts";
import { estimateQueue, type QueueStats } from "./queue-estimate.ts";

const NOW = Date.parse("2026-01-05T10:00:00.000Z");
const record = (patch: Partial<JobRecord> = {}): JobRecord =>
  ({
    tenantId: "key_1",
    id: "gen_1",
    status: "queued",
    createdAt: new Date(NOW - 1000).toISOString(),
    progress: { step: 0, totalSteps: 50 },
    spec: { width: 1000, height: 1000 },
    quotaPeriod: "2026-01",
    ...patch,
  }) as JobRecord;
// 20 ms per step per megapixel: a 1-megapixel, 50-step job takes 1 s.
const stats = (patch: Partial<QueueStats> = {}): QueueStats => ({ waiting: 3, inFlight: 1, msPerStepMpx: 20, runners: 1, ...patch });
const at = (ms: number) => new Date(NOW + ms).toISOString();

describe("estimateQueue", () => {
  it("puts a queued job behind the waiting ones and half the running ones, costed like itself", () => {
    // 2 ahead × 1 s + 1 running × 0.5 s = 2.5 s to start, 1 s to run.
    expect(estimateQueue(record(), stats(), NOW)).toEqual({ position: 3, estimatedStartAt: at(2500), estimatedFinishAt: at(3500) });
  });

  it("divides the work ahead between the runners", () => {
    expect(estimateQueue(record(), stats({ runners: 2 }), NOW)).toEqual({ position: 3, estimatedStartAt: at(1250), estimatedFinishAt: at(2250) });
  });

  it("scales with the job's size and steps", () => {
    const big = record({ spec: { width: 2000, height: 1000 } as JobRecord["spec"], progress: { step: 0, totalSteps: 100 } });
    expect(estimateQueue(big, stats({ waiting: 1, inFlight: 0 }), NOW)).toEqual({ position: 1, estimatedStartAt: at(0), estimatedFinishAt: at(4000) });
  });

  it("gives a position but no times while no pace is known", () => {
    expect(estimateQueue(record(), stats({ msPerStepMpx: null }), NOW)).toEqual({ position: 3, estimatedStartAt: null, estimatedFinishAt: null });
    expect(estimateQueue(record(), undefined, NOW)).toEqual({ position: 1, estimatedStartAt: null, estimatedFinishAt: null });
  });

  it("finishes a running job at its own pace so far", () => {
    const running = record({ status: "running", startedAt: at(-2000), progress: { step: 10, totalSteps: 50 } });
    expect(estimateQueue(running, stats(), NOW)).toEqual({ position: 0, estimatedStartAt: at(-2000), estimatedFinishAt: at(8000) });
  });

  it("uses the runners' pace before a running job's first step", () => {
    const running = record({ status: "running", startedAt: at(-100), progress: { step: 0, totalSteps: 50 } });
    expect(estimateQueue(running, stats(), NOW)?.estimatedFinishAt).toBe(at(1000));
  });

  it.each(["succeeded", "failed", "canceled"] as const)("is null once the job is %s", (status) => {
    expect(estimateQueue(record({ status }), stats(), NOW)).toBeNull();
  });
});
