import type { Log } from "./deps.ts";

/** Scale-in protection for the task running this worker, on while a job runs. */
export interface TaskProtection {
  set(enabled: boolean): Promise<void>;
}

export const noTaskProtection: TaskProtection = { set: async () => undefined };

/**
 * ECS task scale-in protection through the agent's endpoint (`$ECS_AGENT_URI/task-protection/v1/state`),
 * so that scaling in never interrupts a job: the service only stops idle runners. The protection
 * expires by itself, so a runner that dies protected does not pin its instance. Failures are logged
 * and ignored: SIGTERM handling still releases the job if protection is missing.
 */
export function ecsTaskProtection(agentUri: string | undefined, expiresInMinutes: number, log: Log): TaskProtection {
  if (!agentUri) return noTaskProtection;
  let current = false;
  return {
    async set(enabled) {
      if (enabled === current) return;
      try {
        const res = await fetch(`${agentUri}/task-protection/v1/state`, {
          method: "PUT",
          headers: { "content-type": "application/json" },
          body: JSON.stringify(enabled ? { ProtectionEnabled: true, ExpiresInMinutes: expiresInMinutes } : { ProtectionEnabled: false }),
          signal: AbortSignal.timeout(5000),
        });
        await res.body?.cancel();
        if (!res.ok) throw new Error(`HTTP ${res.status}`);
        current = enabled;
      } catch (e) {
        log("task_protection_failed", { enabled, error: e instanceof Error ? e.message : String(e) });
      }
    },
  };
}
