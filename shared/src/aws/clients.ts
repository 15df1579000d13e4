import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { S3Client } from "@aws-sdk/client-s3";
import { SQSClient } from "@aws-sdk/client-sqs";
import type { ResourceConfig } from "../config.ts";

export interface AwsClients {
  s3: S3Client;
  sqs: SQSClient;
  ddb: DynamoDBDocumentClient;
}

/** Emulators accept any credentials; AWS uses the default provider chain. */
const LOCAL_CREDENTIALS = { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" };

/** The same SDK clients in AWS and locally: only endpoints differ (DESIGN §5). */
export function createAwsClients(config: ResourceConfig): AwsClients {
  const region = config.AWS_REGION;
  const local = (endpoint: string | undefined) => (endpoint ? { endpoint, credentials: LOCAL_CREDENTIALS } : {});
  const s3 = new S3Client({
    region,
    ...local(config.TROUPE_S3_ENDPOINT),
    // s3rver speaks path-style only and does not compute the newer default checksums.
    ...(config.TROUPE_S3_ENDPOINT
      ? { forcePathStyle: true, requestChecksumCalculation: "WHEN_REQUIRED", responseChecksumValidation: "WHEN_REQUIRED" }
      : {}),
  });
  const sqs = new SQSClient({ region, ...local(config.TROUPE_SQS_ENDPOINT) });
  const ddb = DynamoDBDocumentClient.from(new DynamoDBClient({ region, ...local(config.TROUPE_DYNAMODB_ENDPOINT) }), {
    marshallOptions: { removeUndefinedValues: true },
  });
  return { s3, sqs, ddb };
}

export function destroyAwsClients(clients: AwsClients): void {
  clients.s3.destroy();
  clients.sqs.destroy();
  clients.ddb.destroy();
}
