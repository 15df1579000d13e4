import { CreateBucketCommand, HeadBucketCommand } from "@aws-sdk/client-s3";
import { CreateQueueCommand, GetQueueAttributesCommand } from "@aws-sdk/client-sqs";
import type { AwsClients } from "@troupe/shared/aws/clients";
import { ensureTables, tableDefinitions, tableNames } from "@troupe/shared/records/tables";
import type { ResourceConfig } from "@troupe/shared/config";

export interface ProvisionOptions {
  maxReceiveCount?: number;
  visibilityTimeoutS?: number;
}

/** Creates (idempotently) the bucket, the jobs and webhooks queues with their DLQs and the three tables. Returns the queue URLs. */
export async function provision(
  clients: AwsClients,
  config: ResourceConfig,
  options: ProvisionOptions = {},
): Promise<{ queueUrl: string; dlqUrl: string; webhookQueueUrl: string }> {
  try {
    await clients.s3.send(new HeadBucketCommand({ Bucket: config.TROUPE_BUCKET }));
  } catch {
    await clients.s3.send(new CreateBucketCommand({ Bucket: config.TROUPE_BUCKET }));
  }

  const dlq = await clients.sqs.send(
    new CreateQueueCommand({ QueueName: `${config.TROUPE_QUEUE_NAME}-dlq`, Attributes: { MessageRetentionPeriod: "1209600" } }),
  );
  const dlqUrl = dlq.QueueUrl!;
  const dlqArn = (await clients.sqs.send(new GetQueueAttributesCommand({ QueueUrl: dlqUrl, AttributeNames: ["QueueArn"] }))).Attributes!.QueueArn!;
  const queue = await clients.sqs.send(
    new CreateQueueCommand({
      QueueName: config.TROUPE_QUEUE_NAME,
      Attributes: {
        VisibilityTimeout: String(options.visibilityTimeoutS ?? 120),
        RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount: options.maxReceiveCount ?? 3 }),
      },
    }),
  );

  // The webhooks queue: one message per pending delivery, hidden between attempts. Its DLQ only
  // collects messages received far more often than a schedule needs (the sweeper re-sends anyway).
  const webhookDlq = await clients.sqs.send(
    new CreateQueueCommand({ QueueName: `${config.TROUPE_WEBHOOK_QUEUE_NAME}-dlq`, Attributes: { MessageRetentionPeriod: "1209600" } }),
  );
  const webhookDlqArn = (await clients.sqs.send(new GetQueueAttributesCommand({ QueueUrl: webhookDlq.QueueUrl!, AttributeNames: ["QueueArn"] }))).Attributes!.QueueArn!;
  const webhookQueue = await clients.sqs.send(
    new CreateQueueCommand({
      QueueName: config.TROUPE_WEBHOOK_QUEUE_NAME,
      Attributes: { RedrivePolicy: JSON.stringify({ deadLetterTargetArn: webhookDlqArn, maxReceiveCount: 50 }) },
    }),
  );

  await ensureTables(clients.ddb, tableDefinitions(tableNames(config)));
  return { queueUrl: queue.QueueUrl!, dlqUrl, webhookQueueUrl: webhookQueue.QueueUrl! };
}
