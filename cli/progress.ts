import type { Job } from "@troupe/client";

/** Where progress goes: stderr in practice, so stdout carries only the results. */
export interface ProgressStream {
  isTTY?: boolean;
  write(chunk: string): unknown;
}

export interface ProgressView {
  /** A new job state from `run`'s onProgress. */
  update(job: Job): void;
  /** The outputs are being written to disk. */
  saving(): void;
  /** Ends the live line, if any. */
  done(): void;
}

/** What one progress line says: step, percentage, which image of how many, and an ETA when known. */
export interface StepPhase {
  kind: "step";
  step: number;
  total: number;
  percent: number;
  image: number;
  images: number;
  /** Seconds left, from the job's own pace so far (an estimate); undefined before two samples. */
  etaS: number | undefined;
}
type Phase = { kind: "queued"; etaS: number | undefined } | StepPhase | { kind: "saving" };

/**
 * The phase a job is in, as the user sees it: the last step done means the runner is saving.
 * `pace` is where the job was first seen running (step and time), for the ETA.
 */
export function phaseOf(job: Job, pace?: { step: number; at: number }, now = Date.now()): Phase | undefined {
  if (job.status === "queued") {
    const start = job.queue?.estimatedStartAt;
    return { kind: "queued", etaS: start ? Math.max(0, Math.round((Date.parse(start) - now) / 1000)) : undefined };
  }
  if (job.status !== "running") return undefined;
  const { step, totalSteps } = job.progress;
  if (step >= totalSteps && totalSteps > 0) return { kind: "saving" };
  const images = Math.max(1, job.input?.numImages ?? 1);
  const perImage = Math.max(1, Math.round(totalSteps / images));
  const done = pace && step > pace.step ? step - pace.step : 0;
  const etaS = done > 0 && pace ? Math.round((((now - pace.at) / done) * (totalSteps - step)) / 1000) : undefined;
  return {
    kind: "step",
    step,
    total: totalSteps,
    percent: totalSteps > 0 ? Math.floor((step / totalSteps) * 100) : 0,
    image: Math.min(images, Math.floor(step / perImage) + 1),
    images,
    etaS,
  };
}

export function bar(step: number, total: number, width = 20): string {
  const filled = total > 0 ? Math.min(width, Math.round((step / total) * width)) : 0;
  return `[${"#".repeat(filled)}${"-".repeat(width - filled)}]`;
}

const duration = (s: number) => (s < 60 ? `${s}s` : `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`);
const eta = (s: number | undefined) => (s === undefined ? "" : ` · ETA ${duration(s)}`);
const stepText = (p: StepPhase) => `${p.percent}% · image ${p.image}/${p.images}${eta(p.etaS)}`;

/** Remembers where the job was first seen running, so the ETA comes from its own pace. */
function paceTracker(now: () => number) {
  let pace: { step: number; at: number } | undefined;
  return (job: Job) => {
    if (job.status === "running" && !pace) pace = { step: job.progress.step, at: now() };
    return phaseOf(job, pace, now());
  };
}

/** One line redrawn in place with \r: `queued…` → `step 12/50 [#####-----] 24% · image 1/1 · ETA 3s` → `saving…`. */
export function ttyProgress(out: ProgressStream, now: () => number = Date.now): ProgressView {
  let drawn = false;
  let last = "";
  const phase = paceTracker(now);
  const draw = (text: string) => {
    if (text === last) return;
    last = text;
    drawn = true;
    out.write(`\r\x1b[2K${text}`);
  };
  const text = (p: Phase) =>
    p.kind === "queued" ? `queued…${p.etaS === undefined ? "" : ` (starts in ~${duration(p.etaS)})`}` : p.kind === "saving" ? "saving…" : `step ${p.step}/${p.total} ${bar(p.step, p.total)} ${stepText(p)}`;
  return {
    update(job) {
      const p = phase(job);
      if (p) draw(text(p));
    },
    saving: () => draw("saving…"),
    done() {
      if (drawn) out.write("\n");
      drawn = false;
    },
  };
}

/** For logs and pipes: `queued`, `step n/N pp% · image i/I · ETA`, at most every ~10%, `saving`, each once. */
export function plainProgress(out: ProgressStream, now: () => number = Date.now): ProgressView {
  let lastKind = "";
  let lastDecile = -1;
  const phase = paceTracker(now);
  const line = (s: string) => out.write(`${s}\n`);
  const saving = () => {
    if (lastKind !== "saving") line("saving");
    lastKind = "saving";
  };
  return {
    update(job) {
      const p = phase(job);
      if (!p) return;
      if (p.kind === "saving") return saving();
      if (p.kind === "queued") {
        if (lastKind !== "queued") line("queued");
        lastKind = "queued";
        return;
      }
      const decile = Math.floor((p.step / Math.max(p.total, 1)) * 10);
      if (lastKind !== "step" || decile > lastDecile) line(`step ${p.step}/${p.total} ${stepText(p)}`);
      lastKind = "step";
      lastDecile = Math.max(lastDecile, decile);
    },
    saving,
    done: () => undefined,
  };
}

export const progressView = (out: ProgressStream): ProgressView => (out.isTTY ? ttyProgress(out) : plainProgress(out));
