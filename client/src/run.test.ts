import { describe, expect, it } from "vitest";
import { TroupeError } from "./errors.js";
import { runGeneration, type RunDeps } from "./run.js";
import type { Job, JobStatus } from "./types.js";

const job = (status: JobStatus, step: number, extra: Partial<Job> = {}): Job =>
  ({ id: "gen_1", status, progress: { step, totalSteps: 4 }, error: null, ...extra }) as Job;

/** A fake API whose job walks through `states`, one per poll; cancel is recorded. */
function fakeApi(states: Job[], onCancel: (id: string) => Job = (id) => job("canceled", 2, { id })) {
  const calls = { creates: [] as (string | undefined)[], cancels: [] as string[], sleeps: 0 };
  const deps: RunDeps = {
    create: async (_input, o) => (calls.creates.push(o.idempotencyKey), states.shift()!),
    get: async () => states.shift()!,
    cancel: async (id) => (calls.cancels.push(id), onCancel(id)),
    sleep: async () => void calls.sleeps++,
  };
  return { deps, calls };
}
const input = { prompt: "a dog img", subjects: [{ uploadId: "upl_0123456789" }] };

describe("runGeneration", () => {
  it("reports each state once, in order, and resolves with the succeeded job", async () => {
    const { deps, calls } = fakeApi([job("queued", 0), job("queued", 0), job("running", 0), job("running", 2), job("running", 2), job("succeeded", 4)]);
    const seen: string[] = [];
    const done = await runGeneration(deps, input, { onProgress: (j) => seen.push(`${j.status} ${j.progress.step}`) });
    expect(done.status).toBe("succeeded");
    expect(seen).toEqual(["queued 0", "running 0", "running 2", "succeeded 4"]);
    expect(calls.creates[0]).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("rejects with the job's own error code when it fails", async () => {
    const failed = job("failed", 1, { error: { code: "internal_error", message: "boom" } });
    const { deps } = fakeApi([job("queued", 0), failed]);
    await expect(runGeneration(deps, input)).rejects.toMatchObject({ code: "internal_error", message: "boom", details: { job: failed } });
  });

  it("cancels the job on abort and rejects with code canceled", async () => {
    const controller = new AbortController();
    const { deps, calls } = fakeApi([job("queued", 0), job("running", 1), job("running", 2)]);
    const run = runGeneration(deps, input, {
      signal: controller.signal,
      onProgress: (j) => j.progress.step === 1 && controller.abort(),
    });
    const e = await run.catch((x: unknown) => x);
    expect(e).toBeInstanceOf(TroupeError);
    expect(e).toMatchObject({ code: "canceled", name: "AbortError", details: { job: { status: "canceled" } } });
    expect(calls.cancels).toEqual(["gen_1"]);
  });

  it("reads the job back when it finished before the cancel landed", async () => {
    const controller = new AbortController();
    const notCancelable = () => {
      throw new TroupeError({ code: "not_cancelable", message: "done", status: 409 });
    };
    const { deps } = fakeApi([job("queued", 0), job("running", 1), job("succeeded", 4)], notCancelable);
    const run = runGeneration(deps, input, { signal: controller.signal, onProgress: (j) => j.status === "running" && controller.abort() });
    await expect(run).rejects.toMatchObject({ code: "canceled", details: { job: { status: "succeeded" } } });
  });

  it("does not submit when the signal is already aborted", async () => {
    const { deps, calls } = fakeApi([job("queued", 0)]);
    await expect(runGeneration(deps, input, { signal: AbortSignal.abort() })).rejects.toMatchObject({ code: "canceled" });
    expect(calls.creates).toEqual([]);
  });
});

describe("runGeneration with files and synchronous mode", () => {
  it("uploads the subjects given as bytes, in order, and passes wait to the submit", async () => {
    const created: { subjects: unknown; wait: number | undefined }[] = [];
    const uploaded: number[] = [];
    let n = 0;
    const deps: RunDeps = {
      create: async (body, o) => (created.push({ subjects: body.subjects, wait: o.wait }), job("succeeded", 4)),
      get: async () => job("succeeded", 4),
      cancel: async () => job("canceled", 0),
      uploadFile: async (file) => (uploaded.push((file as Uint8Array).length), { id: `upl_${n++}` }) as never,
      sleep: async () => undefined,
    };
    const done = await runGeneration(
      deps,
      { prompt: "a man img and a woman img", subjects: [{ file: new Uint8Array(3), box: [0, 0, 0.5, 1] }, { uploadId: "upl_existing000" }] },
      { wait: 30 },
    );
    expect(done.status).toBe("succeeded");
    expect(uploaded).toEqual([3]);
    expect(created).toEqual([{ subjects: [{ uploadId: "upl_0", box: [0, 0, 0.5, 1] }, { uploadId: "upl_existing000" }], wait: 30 }]);
  });
});
