export interface ParentWatchOptions {
  /** The process whose exit counts. @default the parent at the time of the call */
  parentPid?: number;
  /** @default 500 */
  intervalMs?: number;
}

/**
 * Calls `onExit` once when the process that started this one is gone (this one was re-parented).
 * npm forwards SIGINT and SIGTERM to its script but not SIGHUP, and a parent killed outright forwards
 * nothing, so a stack or runner must not rely on being signalled. Linux's parent-death signal
 * (prctl PR_SET_PDEATHSIG) needs a native addon; `process.ppid` is read afresh on every access, so a
 * poll twice a second notices within half a second. The timer does not keep the process alive.
 */
export function onParentExit(onExit: () => void, options: ParentWatchOptions = {}): () => void {
  const parent = options.parentPid ?? process.ppid;
  const timer = setInterval(() => {
    if (process.ppid === parent) return;
    clearInterval(timer);
    onExit();
  }, options.intervalMs ?? 500);
  timer.unref();
  return () => clearInterval(timer);
}
