import { startLoggedProcess, type LoggedProcess } from "./logged-process.ts";

export type RunnerProcess = LoggedProcess;

/** Starts a real runner process (the same entry point production runs) and waits until it is ready. */
export const startRunner = (env: Record<string, string>): Promise<RunnerProcess> =>
  startLoggedProcess("gpu-runner/src/worker/main.ts", "worker_ready", { TROUPE_INTRA_OP_THREADS: "1", ...env });
