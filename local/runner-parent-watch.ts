import { onParentExit } from "./exit-with-parent.ts";

/**
 * Preloaded into each runner of the local stack (`node --import`, by runner-pool.ts; never in production,
 * where ECS signals the runner itself): when the stack process that started it is gone, the runner gets
 * the SIGTERM it would have sent, so it finishes or releases its job as on any stop instead of running on
 * unowned. The pool passes its pid, which also covers a stack that died before this preload ran.
 */
const parentPid = Number(process.env.TROUPE_PARENT_PID) || undefined;
onParentExit(() => process.kill(process.pid, "SIGTERM"), { parentPid });
