import type { Job } from "@troupe/functions/client";

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

type Phase = { kind: "queued" } | { kind: "step"; step: number; total: number } | { kind: "saving" };

/** The phase a job is in, as the user sees it: the last step done means the runner is saving. */
export function phaseOf(job: Job): Phase | undefined {
  if (job.status === "queued") return { kind: "queued" };
  if (job.status !== "running") return undefined;
  const { step, totalSteps } = job.progress;
  return step >= totalSteps && totalSteps > 0 ? { kind: "saving" } : { kind: "step", step, total: totalSteps };
}

export function bar(step: number, total: number, width = 20): string {
  const filled = total > 0 ? Math.min(width, Math.round((step / total) * width)) : 0;
  return `[${"#".repeat(filled)}${"-".repeat(width - filled)}]`;
}

/** One line redrawn in place with \r: `queued…` → `step 12/50 [#####-----]` → `saving…`. */
export function ttyProgress(out: ProgressStream): ProgressView {
  let drawn = false;
  let last = "";
  const draw = (text: string) => {
    if (text === last) return;
    last = text;
    drawn = true;
    out.write(`\r\x1b[2K${text}`);
  };
  const text = (p: Phase) => (p.kind === "queued" ? "queued…" : p.kind === "saving" ? "saving…" : `step ${p.step}/${p.total} ${bar(p.step, p.total)}`);
  return {
    update(job) {
      const p = phaseOf(job);
      if (p) draw(text(p));
    },
    saving: () => draw("saving…"),
    done() {
      if (drawn) out.write("\n");
      drawn = false;
    },
  };
}

/** For logs and pipes: `queued`, `step n/N` at most every ~10%, `saving`, each once. */
export function plainProgress(out: ProgressStream): ProgressView {
  let lastKind = "";
  let lastDecile = -1;
  const line = (s: string) => out.write(`${s}\n`);
  const saving = () => {
    if (lastKind !== "saving") line("saving");
    lastKind = "saving";
  };
  return {
    update(job) {
      const p = phaseOf(job);
      if (!p) return;
      if (p.kind === "saving") return saving();
      if (p.kind === "queued") {
        if (lastKind !== "queued") line("queued");
        lastKind = "queued";
        return;
      }
      const decile = Math.floor((p.step / Math.max(p.total, 1)) * 10);
      if (lastKind !== "step" || decile > lastDecile) line(`step ${p.step}/${p.total}`);
      lastKind = "step";
      lastDecile = Math.max(lastDecile, decile);
    },
    saving,
    done: () => undefined,
  };
}

export const progressView = (out: ProgressStream): ProgressView => (out.isTTY ? ttyProgress(out) : plainProgress(out));
