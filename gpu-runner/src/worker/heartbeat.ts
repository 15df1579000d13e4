import { ChangeMessageVisibilityCommand, type SQSClient } from "@aws-sdk/client-sqs";

export interface Heartbeat {
  stop(): void;
}

/**
 * Keeps a message invisible while its job runs: every third of the visibility timeout it is
 * pushed out by a full timeout again, so only a crashed runner lets the message reappear.
 */
export function startHeartbeat(sqs: SQSClient, queueUrl: string, receiptHandle: string, visibilityTimeoutS: number, onError: (e: unknown) => void): Heartbeat {
  const timer = setInterval(() => {
    sqs
      .send(new ChangeMessageVisibilityCommand({ QueueUrl: queueUrl, ReceiptHandle: receiptHandle, VisibilityTimeout: visibilityTimeoutS }))
      .catch(onError);
  }, Math.max(500, (visibilityTimeoutS * 1000) / 3));
  timer.unref();
  return { stop: () => clearInterval(timer) };
}

/** Makes a message visible again after `delayS` (0: at once), e.g. on shutdown or a retryable error. */
export async function releaseMessage(sqs: SQSClient, queueUrl: string, receiptHandle: string, delayS = 0): Promise<void> {
  await sqs.send(new ChangeMessageVisibilityCommand({ QueueUrl: queueUrl, ReceiptHandle: receiptHandle, VisibilityTimeout: delayS }));
}
