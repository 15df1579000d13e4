import { startLoggedProcess, type LoggedProcess } from "../../support/logged-process.ts";

export type SenderProcess = LoggedProcess;

/** Starts a webhook sender process (functions/src/handlers/webhooks-node.ts) and waits until it polls. */
export const startSender = (env: Record<string, string>): Promise<SenderProcess> =>
  startLoggedProcess("functions/src/handlers/webhooks-node.ts", "webhook_sender_ready", env);
