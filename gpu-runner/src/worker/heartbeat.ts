import { ChangeMessageVisibilityCommand, type SQSClient } from "@aws-sdk/client-sqs";

export interface Heartbeat {
  /** Stops beating and waits for a beat in flight, so no late beat can undo a release that follows. */
  stop(): Promise<void>;
}

/**
 * Keeps a message invisible while its job runs (after `beforeBeat`, which renews the job's lease):
 * every third of the visibility timeout it is pushed out by a full timeout again, so only a crashed
 * runner lets the message reappear.
 */
export function startHeartbeat(
  sqs: SQSClient,
  queueUrl: string,
  receiptHandle: string,
  visibilityTimeoutS: number,
  beforeBeat: () => Promise<void>,
  onError: (e: unknown) => void,
): Heartbeat {
  let stopped = false;
  let beat: Promise<void> = Promise.resolve();
  const timer = setInterval(() => {
    beat = (async () => {
      if (stopped) return;
      await beforeBeat();
      if (stopped) return;
      await sqs.send(new ChangeMessageVisibilityCommand({ QueueUrl: queueUrl, ReceiptHandle: receiptHandle, VisibilityTimeout: visibilityTimeoutS }));
    })().catch(onError);
  }, Math.max(500, (visibilityTimeoutS * 1000) / 3));
  timer.unref();
  return {
    async stop() {
      stopped = true;
      clearInterval(timer);
      await beat;
    },
  };
}

/** Makes a message visible again after `delayS` (0: at once), e.g. on shutdown or a retryable error. */
export async function releaseMessage(sqs: SQSClient, queueUrl: string, receiptHandle: string, delayS = 0): Promise<void> {
  await sqs.send(new ChangeMessageVisibilityCommand({ QueueUrl: queueUrl, ReceiptHandle: receiptHandle, VisibilityTimeout: delayS }));
}
